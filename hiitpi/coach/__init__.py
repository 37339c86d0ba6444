"""The coach: a short session summary written on the device, grounded in the session's numbers."""
