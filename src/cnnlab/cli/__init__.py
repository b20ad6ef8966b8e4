"""The ``cnnlab`` command line: thin typer commands, each calling one function of the layers below."""
