"""The ``sg2eval`` command line: thin click commands over the Python API."""
