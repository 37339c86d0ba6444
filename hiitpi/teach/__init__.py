"""Teach HIIT PI a new exercise by showing it: a demonstration → a rules file and a reference.

`bank` lists the candidate features, `periodic` finds which of them move and where they turn,
`learn` builds the rules document (reps or a hold) and checks it on the demo with the real
referee, `tomlwrite` writes it as a commented rules file, `reference` records the demo's reps for
the similarity score, `plot` draws the reps found, `session` runs the whole thing on a video.
"""
