"""The helpers of the FTP exercises' checks (socklab/check/tasks/ftp.py), with no lab."""

import ftplib
import io
import random
from pathlib import Path

from socklab.check.tasks import ftp as checks


def test_random_binary_data_has_line_ends_a_text_transfer_would_change():
    data = checks.binary(4000)
    assert len(data) == 4000 and b"\r\n" in data


def test_the_recorder_sees_which_mode_each_transfer_used(tmp_path: Path):
    prepared = checks.prepare_08(random.Random(1))
    checks.lay_out_locally(tmp_path, prepared)
    with checks.Recorder(tmp_path) as rec:
        f = ftplib.FTP()
        f.connect("127.0.0.1", rec.port, timeout=5)
        f.login(checks.USER, checks.PASSWORD)
        for mode in checks.MODES:
            f.set_pasv(mode == "passive")
            f.cwd(f"/{checks.FOLDER}/{mode}")
            f.nlst()
            f.storbinary("STOR upload.bin", io.BytesIO(prepared.upload))
        assert f.sendcmd("HASH upload.bin").startswith("213 SHA-256")
        f.quit()
    assert rec.transfers() == [
        ("NLST", "/exercise-08/passive", "passive"), ("STOR", "/exercise-08/passive/upload.bin", "passive"),
        ("NLST", "/exercise-08/active", "active"), ("STOR", "/exercise-08/active/upload.bin", "active")]
    assert (tmp_path / checks.FOLDER / "active" / "upload.bin").read_bytes() == prepared.upload
