import io

from rich.console import Console

from acf.system.progress import RichProgress


def test_the_last_frame_shows_the_title_and_count_not_the_last_episodes_phase():
    out = io.StringIO()
    progress = RichProgress(Console(file=out, width=160, force_terminal=False))
    progress.start(total=2, title="tiny on gsm8k")
    progress.episode(1, "rtn(bits=4)")
    progress.advance()
    progress.episode(2, "rtn(bits=2)")
    progress.phase("evaluating memory")
    progress.advance()
    progress.stop()
    last = out.getvalue().strip().splitlines()[-1]
    assert "2/2" in last and "tiny on gsm8k" in last
    assert "evaluating memory" not in last and "rtn(bits=2)" not in last
