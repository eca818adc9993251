import gzip
import json
import os

import pytest

from omicsformer.errors import DataError, RunError
from omicsformer.fileio import (
    MANIFEST,
    OutputFolder,
    TextHeader,
    check_output_file,
    check_output_path,
    is_output_folder,
    open_text,
    read_file,
    read_header,
    verify_output,
    write_text,
    write_with,
)


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


def build(target, text, **kwargs):
    output = OutputFolder(target, kind="test", **kwargs)
    output.check()
    with output:
        (output.create() / "file").write_text(text)
        return output.publish()


def test_output_folder_publishes_in_one_step_and_refuses_to_clobber(tmp_path):
    output = OutputFolder(tmp_path / "run", kind="test")
    with output:
        work = output.create()
        (work / "file").write_text("1")
        assert not (tmp_path / "run").exists()
        output.publish()
    assert (tmp_path / "run" / "file").read_text() == "1"
    assert not work.exists()
    assert is_output_folder(tmp_path / "run")
    with pytest.raises(RunError, match="already exists; use --force"):
        build(tmp_path / "run", "2")
    build(tmp_path / "run", "2", overwrite=True)
    assert (tmp_path / "run" / "file").read_text() == "2"
    assert sorted(os.listdir(tmp_path)) == [".run.lock", "run"]


def test_a_users_folder_is_never_replaced_even_with_force(tmp_path):
    users = tmp_path / "mine"
    users.mkdir()
    (users / "notes.txt").write_text("a year of work")
    with pytest.raises(RunError, match="not an omicsformer output folder"):
        build(users, "x", overwrite=True)
    assert (users / "notes.txt").read_text() == "a year of work"
    assert sorted(os.listdir(users)) == ["notes.txt"]
    # a folder that only looks like ours (a manifest of someone else's) is not ours either
    (users / MANIFEST).write_text('{"name": "my project"}')
    with pytest.raises(RunError, match="not an omicsformer output folder"):
        build(users, "x", overwrite=True)


def test_an_empty_folder_is_free_and_a_file_is_in_the_way(tmp_path):
    (tmp_path / "empty").mkdir()
    assert build(tmp_path / "empty", "1") == tmp_path / "empty"
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(RunError, match="is not a folder"):
        build(tmp_path / "file.txt", "1", overwrite=True)
    with pytest.raises(RunError, match="is a file, not a folder"):
        build(tmp_path / "file.txt" / "run", "1")
    assert (tmp_path / "file.txt").read_text() == "x"


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path):
    first = OutputFolder(tmp_path / "run", kind="test")
    with first:
        (first.create() / "file").write_text("first")
        second = OutputFolder(tmp_path / "run", kind="test", overwrite=True)
        with pytest.raises(RunError, match="another omicsformer command is writing"):
            second.check()
        with pytest.raises(RunError, match="another omicsformer command is writing"), second:
            second.create()
        assert (first.path / "file").read_text() == "first"  # the refused writer removed nothing
        first.publish()
    assert (tmp_path / "run" / "file").read_text() == "first"


def test_a_failure_removes_the_staging_folder_unless_kept(tmp_path):
    output = OutputFolder(tmp_path / "run", kind="test")
    with pytest.raises(ValueError), output:
        output.create()
        raise ValueError("boom")
    assert not output.path.exists() and not (tmp_path / "run").exists()
    kept = OutputFolder(tmp_path / "run", kind="test")
    with pytest.raises(ValueError), kept:
        kept.create()
        kept.keep()
        raise ValueError("boom")
    assert kept.path.is_dir()


def test_an_interrupted_run_is_kept_until_resumed_or_forced(tmp_path):
    checkpoint = "checkpoint/state.pt"
    output = OutputFolder(tmp_path / "run", kind="test", checkpoint=checkpoint)
    with pytest.raises(KeyboardInterrupt), output:
        work = output.create()
        (work / "checkpoint").mkdir()
        (work / checkpoint).write_text("epoch 6")
        output.keep()
        raise KeyboardInterrupt
    again = OutputFolder(tmp_path / "run", kind="test", checkpoint=checkpoint)
    with pytest.raises(RunError, match="interrupted run .* --resume"):
        again.check()
    resumed = OutputFolder(tmp_path / "run", kind="test", checkpoint=checkpoint)
    with resumed:
        assert (resumed.create(resume=True) / checkpoint).read_text() == "epoch 6"
        resumed.release()
    forced = OutputFolder(tmp_path / "run", kind="test", checkpoint=checkpoint, overwrite=True)
    with forced:
        assert not (forced.create() / checkpoint).exists()
        forced.publish()
    with pytest.raises(RunError, match="finished run; nothing to resume"):
        OutputFolder(tmp_path / "run", kind="test", checkpoint=checkpoint).check(resume=True)


def test_an_unfinished_folder_says_whether_it_can_be_resumed(tmp_path):
    from omicsformer.fileio import staged_target, unfinished

    assert staged_target(tmp_path / ".run.partial") == tmp_path / "run"
    assert staged_target(tmp_path / "run") is None and unfinished(tmp_path / "run") is None
    output = OutputFolder(tmp_path / "run", kind="run", checkpoint="checkpoint/state.pt")
    with pytest.raises(KeyboardInterrupt), output:
        output.create()
        output.keep()
        raise KeyboardInterrupt  # before the first checkpoint
    assert unfinished(tmp_path / "run") == (
        "it was interrupted before it was finished, with nothing to resume from (.run.partial); "
        "run the same command again"
    )
    with pytest.raises(RunError, match="saved no checkpoint .* train it again without --resume"):
        output.check(resume=True)
    with pytest.raises(RunError, match=r"the unfinished folder of .*run, not a run: it was "):
        verify_output(output.path, "run", "a run")
    (output.path / "checkpoint").mkdir()
    (output.path / "checkpoint" / "state.pt").write_text("epoch 1")
    assert unfinished(tmp_path / "run").endswith(f"omicsformer train --resume {tmp_path / 'run'}")


def test_a_staging_folder_not_made_by_omicsformer_is_left_alone(tmp_path):
    (tmp_path / ".run.partial").mkdir()
    (tmp_path / ".run.partial" / "keep.txt").write_text("x")
    with pytest.raises(RunError, match="was not made by omicsformer"):
        build(tmp_path / "run", "1", overwrite=True)
    assert (tmp_path / ".run.partial" / "keep.txt").exists()


def test_verify_output_names_a_changed_missing_or_foreign_file(tmp_path):
    folder = build(tmp_path / "run", "1")
    (folder / "sub").mkdir()
    files = verify_output(folder, "test", "a test folder")["files"]
    assert list(files) == ["file"] and len(files["file"]) == 64  # a SHA-256 in hex
    (folder / "notes.txt").write_text("added by the user")  # files beside the record are fine
    verify_output(folder, "test", "a test folder")
    (folder / "file").write_text("2")
    with pytest.raises(RunError, match=r"run/file: changed since omicsformer wrote it"):
        verify_output(folder, "test", "a test folder")
    (folder / "file").unlink()
    with pytest.raises(RunError, match="missing"):
        verify_output(folder, "test", "a test folder")
    with pytest.raises(RunError, match="a test folder, not a run"):
        verify_output(folder, "run", "a run")
    (folder / MANIFEST).write_text("{")
    with pytest.raises(RunError, match="damaged"):
        verify_output(folder, "test", "a test folder")
    (folder / MANIFEST).unlink()
    with pytest.raises(RunError, match="omicsformer.json missing"):
        verify_output(folder, "test", "a test folder")


def test_read_file_turns_any_parse_failure_into_one_error_naming_the_file(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"a": ')
    with pytest.raises(RunError, match=r"x.json: damaged or not written by omicsformer"):
        read_file(path, lambda p: json.loads(p.read_text()))
    with pytest.raises(RunError, match="missing"):
        read_file(tmp_path / "absent.json", lambda p: p.read_text())


def test_output_paths_are_checked_before_anything_is_written(tmp_path):
    with pytest.raises(RunError, match="name too long"):
        check_output_path(tmp_path / ("a" * 250), staged_name="." + "a" * 250 + ".partial")
    with pytest.raises(RunError, match="cannot write in /proc"):
        check_output_path("/proc/omicsformer-test/run", staged_name=".run.partial")
    (tmp_path / "f").write_text("x")
    with pytest.raises(RunError, match="is a file, not a folder"):
        check_output_path(tmp_path / "f" / "run", staged_name=".run.partial")
    check_output_path(tmp_path / "new" / "deeper" / "run", staged_name=".run.partial")
    assert sorted(os.listdir(tmp_path)) == ["f"]  # checking wrote nothing
    with pytest.raises(RunError, match="already exists; use --force"):
        check_output_file(tmp_path / "f")
    check_output_file(tmp_path / "f", overwrite=True)
    with pytest.raises(RunError, match="is a folder"):
        check_output_file(tmp_path, overwrite=True)


@pytest.mark.parametrize("name", ["table.tsv.gz", "table.tsv", "HiSeqV2"])
def test_header_reader_finds_gzip_by_its_bytes_whatever_the_name(tmp_path, name):
    text = "# gene-model: GENCODE v36\n# second\ngene_id\tgene_name\tunstranded\nG1\tA\t1\n"
    plain, packed = tmp_path / "plain", tmp_path / "packed"
    plain.mkdir(), packed.mkdir()
    (plain / name).write_text(text)
    with gzip.open(packed / name, "wt") as handle:
        handle.write(text)
    for path in (plain / name, packed / name):
        header = read_header(path, comment="#")
        assert header == TextHeader(["gene_id", "gene_name", "unstranded"], 2)
        assert read_header(path).cells == ["# gene-model: GENCODE v36"]
        assert read_header(path, ",", comment="#").cells == ["gene_id\tgene_name\tunstranded"]
        with open_text(path) as handle:
            assert handle.read() == text


def test_header_reader_on_empty_long_and_broken_files(tmp_path):
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    assert read_header(empty) == TextHeader([], 0)
    comments = tmp_path / "comments.tsv"
    comments.write_text("#" * 100 + "\n#\n")
    assert read_header(comments, comment="#", limit=16) == TextHeader([], 2)
    wide = tmp_path / "wide.tsv"
    wide.write_text("\t".join(f"s{i}" for i in range(100)) + "\n")
    assert read_header(wide, limit=9).cells == ["s0", "s1", "s2", ""]  # cut at the limit
    damaged = tmp_path / "damaged.tsv.gz"
    damaged.write_bytes(gzip.compress(b"a\tb\n" * 1000)[:30])
    for path in (damaged, tmp_path / "missing.tsv", tmp_path):
        with pytest.raises(DataError, match="cannot be read") as info:
            read_header(path)
        assert "\n" not in str(info.value)
