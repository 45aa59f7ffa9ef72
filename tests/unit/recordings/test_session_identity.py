"""A session is what it holds: its slug, its market and its frames. Reached by two paths
or copied, it is found once (the others named on stderr); two different sessions under
one slug are an error naming both folders."""

from __future__ import annotations

import shutil

import pytest
from support.sessions import SLUG, write_session

from pk8opt.errors import DataSelectionError
from pk8opt.recordings.catalog import SessionId, session_folders, usable_sessions
from pk8opt.recordings.manifest import read_manifest
from pk8opt.recordings.raw import FRAMES_NAME
from pk8opt.recordings.session import finish_session


def test_a_folder_reached_by_a_link_is_found_once(tmp_path, fixtures_dir, capsys):
    d = write_session(tmp_path / "rec", fixtures_dir)
    finish_session(d)
    link = tmp_path / "links" / SLUG
    link.parent.mkdir()
    link.symlink_to(d)
    assert session_folders([d, link]) == [d]
    assert capsys.readouterr().err == f"skipped {link}: the same folder as {d}\n"


def test_a_copy_is_found_once(tmp_path, fixtures_dir, capsys):
    d = write_session(tmp_path / "rec", fixtures_dir)
    finish_session(d)
    copy = tmp_path / "rec" / "backup" / SLUG
    shutil.copytree(d, copy)
    assert SessionId.of(read_manifest(d)) == SessionId.of(read_manifest(copy))
    good, skipped = usable_sessions([tmp_path / "rec"])
    assert list(good) == [d]
    assert skipped == [(copy, f"the same session as {d} (slug, condition id and sha256 agree)")]
    assert session_folders([tmp_path / "rec"]) == [d]
    assert f"skipped {copy}: the same session as {d}" in capsys.readouterr().err


def test_unfinished_copies_are_compared_by_their_frames(tmp_path, fixtures_dir):
    d = write_session(tmp_path / "rec", fixtures_dir)  # still recording: no sha256 yet
    copy = tmp_path / "rec" / "backup" / SLUG
    shutil.copytree(d, copy)
    assert session_folders([tmp_path / "rec"]) == [d]
    with open(copy / FRAMES_NAME, "a") as fh:
        fh.write('{"t": 1, "ch": "market", "raw": "PONG"}\n')
    with pytest.raises(DataSelectionError, match=f"two different sessions named {SLUG}") as exc:
        session_folders([tmp_path / "rec"])
    assert str(d) in str(exc.value) and str(copy) in str(exc.value)


def test_a_copy_whose_frames_changed_is_another_session(tmp_path, fixtures_dir):
    d = write_session(tmp_path / "rec", fixtures_dir)
    finish_session(d)
    copy = tmp_path / "rec" / "backup" / SLUG
    shutil.copytree(d, copy)
    with open(copy / "frames.jsonl.gz", "ab") as fh:  # same manifest, not the same file
        fh.write(b"\0")
    with pytest.raises(DataSelectionError, match="frames files of different sizes"):
        usable_sessions([tmp_path / "rec"])


def test_an_old_restart_folder_is_left_to_its_reader(tmp_path, fixtures_dir):
    d = write_session(tmp_path / "rec", fixtures_dir)
    finish_session(d)
    old = tmp_path / "rec" / f"{SLUG}_r2"
    shutil.copytree(d, old)
    with open(old / "frames.jsonl.gz", "ab") as fh:
        fh.write(b"\0")
    # not named after its slug: not compared with the session, skipped when read
    assert session_folders([tmp_path / "rec"]) == [d, old]
    good, skipped = usable_sessions([tmp_path / "rec"])
    assert list(good) == [d] and "does not match the folder name" in skipped[0][1]
