from flask.cli import AppGroup

units_cli = AppGroup("units")
