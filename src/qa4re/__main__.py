from qa4re.cli import main

main()
