"""Item sources for ``qa4re tune``: each module reads one kind of multiple-choice items."""
