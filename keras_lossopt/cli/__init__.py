"""The `keras-lossopt` command line: the lab and the catalogue's tools.

The console script starts in `keras_lossopt_launcher` (outside the package, so
that `--help`, `--version`, `list` and `recommend` import no backend); it calls
`keras_lossopt.cli.main.main`, as does `python -m keras_lossopt`.

- `commands.py`   the command table: name, help, examples and module of each subcommand
- `lab.py`, `compare.py`, `lr_find.py`, `recommend.py`, `listing.py`: one module a subcommand
- `common.py`     what the subcommands share (tasks, data sets, options, run steps)
- `backend.py`    starting Keras for the commands that train (backend, quiet start-up)
- `catalogue.py`  the registry's rows for `list`, read from source when Keras is not imported
- `specs.py`, `engine.py`, `data.py`, `report.py`, `plots.py`, `rosenbrock.py`: the lab's machinery

scikit-learn and matplotlib (the `lab` extra) are imported only when a command
needs them.
"""
