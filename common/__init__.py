"""Pieces shared by the server, training and the CLI: paths, model preparation, typed configs."""
