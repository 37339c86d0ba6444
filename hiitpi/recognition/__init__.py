"""Exercise recognition: which workout is being done, from the poses alone (auto mode).

`features` (pose features per frame and per window), `model` (the small classifier, numpy only,
shipped as ``recogniser.npz``), `recogniser` (the rules' candidates and the classifier,
together), `auto` (auto mode: intervals that follow what is recognised), `data` and `train`
(the labelled data sets and the fit, used by ``scripts/train_recogniser.py``), `evaluate`
(``hiitpi eval recognition``). See docs/recognition.md.
"""

#: The workout name that means "recognise it": ``--workout auto``, ``[referee] workout = "auto"``.
AUTO = "auto"


def is_auto(name: str | None) -> bool:
    return isinstance(name, str) and name.strip().lower() == AUTO
