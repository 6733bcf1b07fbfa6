"""Adapters of the document pipeline to other frameworks: the FastAPI service and the spaCy component.

They import from the library (``qa4re.extract``, ``qa4re.backends``); nothing in the library imports them.
"""
