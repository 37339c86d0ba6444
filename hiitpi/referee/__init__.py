"""The referee: rules loading/validation, features, the state machine, pace."""
