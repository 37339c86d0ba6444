"""The coach: a short session summary and a chat about the sessions, written on the device and
grounded in the numbers the appliance computes (docs/coach.md)."""
