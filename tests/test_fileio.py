import os

import pytest

from omicsformer.errors import RunError
from omicsformer.fileio import StagedDir, write_text, write_with


def test_atomic_write_leaves_the_old_file_when_the_writer_fails(tmp_path):
    path = tmp_path / "out.csv"
    write_text(path, "old\n")

    def broken(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_with(path, broken)
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_written_files_get_normal_permissions(tmp_path):
    write_text(tmp_path / "a.txt", "x")
    assert (tmp_path / "a.txt").stat().st_mode & 0o044  # group/other readable under a usual umask


def test_staged_dir_publishes_in_one_step_and_refuses_to_clobber(tmp_path):
    stage = StagedDir(tmp_path / "run")
    work = stage.create()
    (work / "file").write_text("1")
    assert not (tmp_path / "run").exists()
    stage.publish()
    assert (tmp_path / "run" / "file").read_text() == "1"
    assert not work.exists()
    with pytest.raises(RunError, match="already exists"):
        StagedDir(tmp_path / "run").create()
    again = StagedDir(tmp_path / "run", overwrite=True)
    (again.create() / "file").write_text("2")
    again.publish()
    assert (tmp_path / "run" / "file").read_text() == "2"
    assert sorted(os.listdir(tmp_path)) == ["run"]
