"""The picture's turn read from the body (a camera on its side): `hiitpi.referee.orientation`."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from hiitpi.config import Settings
from hiitpi.pose.types import KEYPOINT_INDEX, Pose
from hiitpi.pose.upright import pose_in_picture
from hiitpi.referee.catalog import load_catalog
from hiitpi.referee.datasets import pose_sequence, read_pose_index, turn_picture
from hiitpi.referee.evaluate import count_sequence
from hiitpi.referee.machine import Referee
from hiitpi.referee.orientation import CUES, Orientation, turn_back
from hiitpi.referee.synth import Figure, plank_figure, squat_sequence, standing_figure

REPO = Path(__file__).resolve().parent.parent
FPS = 30.0
TURNS = (90, 180, 270)


def shipped(name: str):
    return load_catalog(REPO / "rules").workout(name)


def turned(pose: Pose, turn: int) -> Pose:
    """``pose`` as a picture turned clockwise by ``turn`` degrees shows it (its up points there)."""
    return pose_in_picture(pose, turn)


def count(rule, poses: list[Pose], counting: str = "judge") -> Referee:
    ref = Referee(rule, counting=counting)
    for p in poses:
        ref.update(p)
    ref.finish()
    return ref


def squats_then(poses: list[Pose], reps: int, t0: float) -> list[Pose]:
    out = list(poses)
    for p in squat_sequence(reps):
        out.append(Pose(p.keypoints, p.score, p.timestamp + t0, p.width, p.height))
    return out


@pytest.mark.parametrize("turn", (0, *TURNS))
def test_each_cue_reads_the_turn_of_its_posture_and_turning_back_undoes_it(turn):
    stand = turned(standing_figure(Figure(), 0.0), turn)
    plank = turned(plank_figure(0.0), turn)
    for cue, pose in (("standing", stand), ("hands", plank)):
        px = (pose.keypoints * np.array([pose.width, pose.height, 1.0])).tolist()
        assert CUES[cue](px, 0.2) == turn, cue
        upright = turn_back(px, turn, pose.width, pose.height)
        orig = standing_figure(Figure(), 0.0) if cue == "standing" else plank_figure(0.0)
        want = (orig.keypoints * np.array([orig.width, orig.height, 1.0])).tolist()
        assert np.allclose(upright, want, atol=1e-3), cue
    # the standing cue reads a plank as a body lying along the frame (why each rule names its
    # cue); a standing body's hands hang under its shoulders, but along its own line: no vote
    px = (plank.keypoints * np.array([plank.width, plank.height, 1.0])).tolist()
    assert CUES["standing"](px, 0.2) == (turn + 270) % 360
    px = (stand.keypoints * np.array([stand.width, stand.height, 1.0])).tolist()
    assert CUES["hands"](px, 0.2) is None


@pytest.mark.parametrize("turn", TURNS)
@pytest.mark.parametrize("counting", ["judge", "attempts"])
def test_squats_filmed_by_a_camera_on_its_side_count_as_upright(turn, counting):
    rule = shipped("squat")
    assert rule.up_cue == "standing"
    poses = squat_sequence(5)
    assert count(rule, poses, counting).count == 5
    ref = count(rule, [turned(p, turn) for p in poses], counting)
    assert ref.count == 5 and ref.turn == turn
    if turn == 180:
        # without the cue an upside-down squatter has the shoulders under the hips in every pose:
        # each is the standing floor's glitch, and no squat is counted
        blind = count(rule.model_copy(update={"up_cue": "none"}), [turned(p, turn) for p in poses], counting)
        assert blind.count == 0 and blind.glitches > 0


@pytest.mark.parametrize("turn", TURNS)
def test_push_ups_filmed_by_a_camera_on_its_side_count_as_upright(turn):
    out, t = [], 0.0
    for _ in range(4):
        for i in range(45):
            x = 0.5 - 0.5 * math.cos(2 * math.pi * i / 45)
            out.append(plank_figure(t, elbow_deg=175 - 95 * x))
            t += 1 / FPS
    rule = shipped("push_up")
    assert rule.up_cue == "hands"
    assert count(rule, out).count == 4
    ref = count(rule, [turned(p, turn) for p in out])
    assert ref.count == 4 and ref.turn == turn


def test_the_first_reps_read_before_the_turn_is_known_are_measured_again():
    # 3 s of squats pass before the turn is read: they are measured again, turned back, so the
    # events are the upright ones (no rep lost, none counted twice)
    rule = shipped("squat")
    poses = squat_sequence(6, period_s=1.2)
    upright = []
    ref = Referee(rule, counting="attempts")
    for p in poses:
        upright += ref.update(p)
    turned_events = []
    ref = Referee(rule, counting="attempts")
    for p in poses:
        turned_events += ref.update(turned(p, 90))
    assert [(e.kind, round(e.t_end, 3)) for e in turned_events] == [
        (e.kind, round(e.t_end, 3)) for e in upright
    ]
    assert ref.count == 6


def test_lying_down_in_the_middle_of_a_set_does_not_turn_the_picture():
    # two squats, five seconds lying on the floor (a body along the frame's side, in an upright
    # picture), two squats: the turn was read upright at the start and stays so
    rule = shipped("squat")
    first = squat_sequence(2)
    t = first[-1].timestamp
    lying = [turned(standing_figure(Figure(), t + i / FPS), 90) for i in range(int(5 * FPS))]
    lying = [Pose(p.keypoints, p.score, p.timestamp, 640, 480) for p in lying]  # same camera
    poses = squats_then(first + lying, 2, t + 5.0)
    ref = count(rule, poses)
    assert ref.turn == 0
    # counted as if the rule had no cue at all: the picture was never turned
    blind = count(rule.model_copy(update={"up_cue": "none"}), poses)
    assert ref.count == blind.count >= 4


def test_a_forward_lean_does_not_turn_the_picture():
    # squats leaning 70° forward: the torso tips sideways, the whole body does not
    orient = Orientation("standing")
    for i in range(int(6 * FPS)):
        lean = math.radians(70 * (0.5 - 0.5 * math.cos(2 * math.pi * i / 60)))
        p = standing_figure(Figure(knee_deg=100), i / FPS)
        px = (p.keypoints * np.array([p.width, p.height, 1.0])).tolist()
        hip = px[11]
        for j in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10):  # head, shoulders and arms about the hips
            x, y = px[j][0] - hip[0], px[j][1] - hip[1]
            px[j][0] = hip[0] + x * math.cos(lean) - y * math.sin(lean)
            px[j][1] = hip[1] + x * math.sin(lean) + y * math.cos(lean)
        orient.update(px, i / FPS, p.width, p.height)
    assert orient.decided and orient.turn == 0


@pytest.fixture(scope="module")
def settings():
    return Settings()


def test_a_real_sideways_video_is_read_as_turned(shared_data, settings):
    # RepCount-A's test2320 was decoded without its rotation: the squatter lies along the left
    # edge of the picture in every frame where a person was found
    rows = {r.video: r for r in read_pose_index(shared_data / "repcount_pose" / "index.csv")}
    array = np.load(shared_data / "repcount_pose" / "poses" / "test2320.npy")
    ref = count_sequence(shipped("squat"), list(pose_sequence(array, FPS)), FPS, settings)
    assert rows["test2320.mp4"].exercise == "squat" and ref.turn == 270


@pytest.mark.parametrize("turn", TURNS)
def test_real_jumping_jacks_turned_count_as_upright(shared_data, settings, turn):
    array = np.load(shared_data / "repcount_pose" / "poses" / "stu8_28.npy")
    rule = shipped("jumping_jack")
    upright = count_sequence(rule, list(pose_sequence(array, FPS)), FPS, settings)
    ref = count_sequence(rule, list(pose_sequence(turn_picture(array, turn), FPS)), FPS, settings)
    assert upright.count == 7 and ref.count == 7 and ref.turn == turn
    blind = count_sequence(
        rule.model_copy(update={"up_cue": "none"}),
        list(pose_sequence(turn_picture(array, turn), FPS)),
        FPS,
        settings,
    )
    assert abs(blind.count - 7) > 1


def test_turn_picture_keeps_empty_frames_and_the_angle_columns():
    a = np.random.default_rng(0).random((4, 104)).astype(np.float32)
    a[1] = 0.0
    for turn in TURNS:
        b = turn_picture(a, turn)
        assert not b[1].any() and np.array_equal(b[:, 99:], a[:, 99:])
        assert np.array_equal(b[:, 2:99:3], a[:, 2:99:3])  # z kept
    assert np.allclose(turn_picture(turn_picture(a, 90), 270), a, atol=1e-6)
    assert np.allclose(turn_picture(turn_picture(a, 180), 180), a, atol=1e-6)
    with pytest.raises(ValueError, match="multiple of 90"):
        turn_picture(a, 45)


def test_a_frozen_frame_is_no_evidence_of_a_turned_picture():
    # a set that begins on 3 s of one repeated frame of a body lying along the frame (a stalled
    # camera, the switching test's rest), then squats: the repeated frame does not vote
    rule = shipped("squat")
    lying = turned(standing_figure(Figure(), 0.0), 90)
    frozen = [Pose(lying.keypoints, lying.score, i / FPS, 640, 480) for i in range(int(3 * FPS))]
    ref = count(rule, squats_then(frozen, 3, 3.0))
    assert ref.turn == 0 and ref.count == 3
    # the same frames with the body's own small movements do read as a turned picture
    moving = [
        Pose(lying.keypoints + np.float32([0.01 * math.sin(i), 0.0, 0.0]), lying.score, i / FPS, 640, 480)
        for i in range(int(3 * FPS))
    ]
    orient = Orientation("standing")
    for p in moving:
        orient.update((p.keypoints * np.array([640, 480, 1.0])).tolist(), p.timestamp, 640, 480)
    assert orient.decided and orient.turn == 90


def test_what_a_sideways_reading_counts_is_held_back_until_the_turn_is_read():
    # while most votes name a turn the events are held; read upright they are let go in order,
    # read turned the set is measured again instead: no event is given twice or lost
    rule = shipped("squat")
    for turn in (0, 270):
        poses = [turned(p, turn) if turn else p for p in squat_sequence(4, period_s=1.2)]
        ref = Referee(rule, counting="attempts")
        given, held = [], 0
        for p in poses:
            out = ref.update(p)
            if ref._orient.leaning:
                assert out == []
            held = max(held, len(ref._held))
            given += out
        given += ref.finish()
        reps = [e for e in given if e.kind == "rep"]
        # turned 270°, the sideways reading counts two events before the turn is read
        assert held == (2 if turn else 0), (turn, held)
        assert [e.count for e in reps] == [1, 2, 3, 4] and ref.count == 4, turn


def lying_px(points: dict[str, tuple[float, float]], turn: int) -> list:
    """A 640x480 picture's keypoints (every one seen, the unnamed ones at the hips), turned."""
    kp = np.zeros((17, 3), dtype=np.float32)
    kp[:, :2] = np.float32(points["hip"]) / np.float32([640, 480])
    kp[:, 2] = 0.9
    for side in ("left", "right"):
        for part in ("shoulder", "hip", "knee", "ankle"):
            kp[KEYPOINT_INDEX[f"{side}_{part}"], :2] = np.float32(points[part]) / np.float32([640, 480])
    pose = turned(Pose(kp, 0.9, 0.0, 640, 480), turn) if turn else Pose(kp, 0.9, 0.0, 640, 480)
    return (pose.keypoints * np.array([pose.width, pose.height, 1.0])).tolist()


@pytest.mark.parametrize("turn", (0, *TURNS))
def test_the_knees_cue_reads_bent_knees_with_the_feet_near_the_hips_and_sitting_up(turn):
    # lying from the side, head left, knees up and the feet drawn in: hips to ankles is shorter
    # than the torso (the line is short) while the legs themselves are long: the knees say
    knees_up = {"shoulder": (150, 400), "hip": (300, 400), "knee": (380, 300), "ankle": (440, 400)}
    # sitting up with straight legs out: no knee bend, the torso up and the legs across it
    sitting = {"shoulder": (250, 260), "hip": (300, 400), "knee": (400, 400), "ankle": (500, 400)}
    # no vote: the same bent legs seen from the feet (foreshortened), a standing body, kneeling
    # on the heels (the knee folded under: the feet at the hips), and knees and torso pointing
    # one way (RepCount-A's stu2_62, filmed from the feet, reads so) or the top of a bent-knee
    # sit-up (where the knees say nothing, the legs too short to say sitting up)
    end_on = {"shoulder": (300, 250), "hip": (300, 400), "knee": (300, 350), "ankle": (300, 390)}
    standing = {"shoulder": (300, 150), "hip": (300, 300), "knee": (300, 400), "ankle": (300, 470)}
    kneeling = {"shoulder": (330, 210), "hip": (330, 360), "knee": (220, 420), "ankle": (340, 425)}
    curled = {"shoulder": (260, 260), "hip": (300, 400), "knee": (380, 300), "ankle": (440, 400)}
    cue = CUES["knees"]
    assert cue(lying_px(knees_up, turn), 0.3) == turn
    assert cue(lying_px(sitting, turn), 0.3) == turn
    for pose in (end_on, standing, kneeling, curled):
        assert cue(lying_px(pose, turn), 0.3) is None, pose


@pytest.mark.parametrize("turn", (90, 270))
@pytest.mark.parametrize(
    ("path", "reps"),
    [
        # RepCount-A's stu2_55 (knees bent, feet near the hips) and Countix's sit_up026 and
        # sit_up028 (counts as the upright picture gives them): before the knees cue read the
        # legs' own length and sitting up, each turned by 90° (and Countix's by 270°) was read
        # upright and counted 0
        ("repcount_pose/poses/stu2_55.npy", 29),
        ("countix_pose/poses/sit_up026.npy", 8),
        ("countix_pose/poses/sit_up028.npy", 2),
    ],
)
def test_real_sit_ups_turned_count_as_upright(shared_data, settings, path, reps, turn):
    array = np.load(shared_data / path)
    rule = shipped("situp")
    assert rule.up_cue == "knees"
    upright = count_sequence(rule, list(pose_sequence(array, FPS)), FPS, settings)
    ref = count_sequence(rule, list(pose_sequence(turn_picture(array, turn), FPS)), FPS, settings)
    assert upright.count == reps and ref.count == reps and ref.turn == turn


#: getting down to the mat, in an upright picture: a deep squat and a forward fold, each read by
#: the knees cue as a sit-up's posture turned by a quarter (lying with the knees up; sitting up)
GETTING_DOWN = {
    "squat": {"shoulder": (0.29, 0.23), "hip": (0.3, 0.38), "knee": (0.4, 0.37), "ankle": (0.32, 0.46)},
    "fold": {"shoulder": (0.3, 0.55), "hip": (0.5, 0.5), "knee": (0.5, 0.7), "ankle": (0.5, 0.9)},
}


@pytest.mark.parametrize("posture", sorted(GETTING_DOWN))
def test_a_sit_up_set_after_getting_down_by_a_squat_or_a_fold_still_counts(shared_data, settings, posture):
    # three seconds of it (moving a little) before RepCount-A's stu2_55 (29 as filmed): read as
    # turned, then the sit-ups read the picture upright again and only the reps of those seconds
    # are lost; before, a sit-up's few votes never undid the reading (0 and 1 counted)
    seq = list(pose_sequence(np.load(shared_data / "repcount_pose" / "poses" / "stu2_55.npy"), FPS))
    first = next(p for p in seq if p is not None)
    n = int(3 * FPS)
    poses = []
    for i in range(n):
        kp = np.zeros((17, 3), dtype=np.float32)
        kp[:, 2] = 0.9
        kp[:, :2] = GETTING_DOWN[posture]["hip"]
        for side in ("left", "right"):
            for part, xy in GETTING_DOWN[posture].items():
                kp[KEYPOINT_INDEX[f"{side}_{part}"], :2] = xy
        kp[:, :2] += np.float32(0.004) * np.float32([math.sin(1.7 * i), math.cos(2.3 * i)])
        poses.append(Pose(kp, 0.9, i / FPS, first.width, first.height))
    px = (poses[0].keypoints * np.array([first.width, first.height, 1.0])).tolist()
    assert CUES["knees"](px, 0.2) in (90, 270)
    poses += [
        None if p is None else Pose(p.keypoints, p.score, p.timestamp + n / FPS, p.width, p.height)
        for p in seq
    ]
    ref = count_sequence(shipped("situp"), poses, FPS, settings)
    assert ref.turn == 0 and 27 <= ref.count <= 30
