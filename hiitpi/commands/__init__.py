"""One module per `hiitpi` subcommand; see hiitpi.cli."""
