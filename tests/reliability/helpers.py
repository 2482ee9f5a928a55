"""What every refusal in this catalogue must look like: exit status 2, one line on stderr, nothing written."""

from __future__ import annotations

from pathlib import Path

from isla_nnunet.cli import main


def refused(capsys, argv: list, message: str = "", out: Path | None = None) -> str:
    """Run ``isla ARGV`` and return its error line after checking the refusal's form.

    ``message`` must appear in the line; ``out``, when given, must not have been created.
    """
    argv = [str(a) for a in argv]
    status = main(argv)
    err = capsys.readouterr().err.strip()
    assert status == 2, err
    assert err.startswith(f"isla {argv[0]}: error: ") and "\n" not in err, err
    assert message in err, err
    assert out is None or not out.exists()
    return err
