import json
import subprocess
import sys

import pytest


def test_help_and_plugins_list_do_not_import_torch():
    code = (
        "import sys\n"
        "from acf.cli import main\n"
        "for argv in (['acf', '--help'], ['acf', 'plugins', 'list', '--all']):\n"
        "    sys.argv = argv\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit as e:\n"
        "        assert not e.code, e.code\n"
        "heavy = [m for m in ('torch', 'transformers', 'nevergrad', 'numpy') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["compress", "no-such-alias", "-d", "gsm8k"], "is not a model alias, a folder or a Hub id"),
        (["compress", "./missing/folder", "-d", "gsm8k"], "no model folder at ./missing/folder"),
        (
            ["compress", "{tiny}", "-d", "squad"],
            "unknown dataset 'squad'; available: bbh, commonsenseqa, gsm8k, humaneval, perplexity",
        ),
        (["compress", "{tiny}", "-d", "gsm8k", "-c", "size_mb=<3"], "cannot parse constraint"),
        (["compress", "{tiny}", "-d", "gsm8k", "-c", "speed>=3"], "unknown metric 'speed'"),
        (["compress", "{tiny}", "-d", "gsm8k", "--searcher", "annealing"], "unknown searcher 'annealing'"),
        (["compress", "{tiny}", "-d", "gsm8k", "--reward", "cheap"], "unknown reward preset 'cheap'"),
        (["compress", "{tiny}", "-d", "gsm8k", "-m", "gptq9"], "unknown method 'gptq9'"),
        (["compress", "{tiny}", "-d", "gsm8k", "-e", "energy9"], "unknown evaluator 'energy9'"),
        (["compress", "{tiny}", "-d", "gsm8k", "-n", "0"], "--episodes must be at least 1"),
        (["compress", "{tiny}", "-d", "gsm8k", "--objective", "speed"], "unknown objective(s) speed"),
        (["compress", "{tiny}", "-d", "gsm8k", "--weight", "size_mb"], "--weight expects METRIC=NUMBER"),
        (
            ["compress", "{tiny}", "-d", "gsm8k", "--eval-option", "limit=3"],
            "--eval-option expects EVALUATOR.OPTION=VALUE",
        ),
        (["compress", "{tiny}", "-d", "gsm8k", "--eval-option", "gsm8k.subset=many"], "is not a valid int"),
        (["compress", "{tiny}", "-d", "commonsenseqa:nope"], "commonsenseqa has no variant 'nope'; variants: lm-eval"),
        (["compress", "{tiny}", "-d", "gsm8k:cot"], "gsm8k has no variants"),
        (["compress", "{tiny}", "-d", "gsm8k", "--eval-option", "gsm8k.colour=3"], "has no option(s) colour"),
        (
            ["compress", "{tiny}", "-d", "gsm8k", "--data-path", "/no/such.jsonl"],
            "data file /no/such.jsonl does not exist",
        ),
        (["compress", "{tiny}", "-d", "gsm8k", "--data-path", "{bad_schema}"], "missing question, answer"),
        (["compress", "{tiny}", "-d", "gsm8k", "--resume"], "--resume needs the --run-dir"),
        (["resume", "{tmp}/no-run"], "nothing to resume"),
        (["frontier", "show", "{tmp}/no-run"], "is not an acf run directory"),
        (["spec", "{tmp}"], "has no config.json"),
        (["compress", "{tiny}", "-d", "gsm8k", "-n", "-3"], "--episodes must be at least 1"),
        (["compress", "{tiny}", "-d", "gsm8k", "--max-steps", "0"], "--max-steps must be at least 1"),
        (["compress", "{tiny}", "-d", "gsm8k", "--timeout", "0"], "--timeout must be positive"),
        (
            ["compress", "{tiny}", "-d", "gsm8k", "--data-path", "{data}", "--run-dir", "{file}/run"],
            "cannot write to run directory",
        ),
        (["compress", "{huge}", "-d", "gsm8k"], "GiB to load on cpu, but only"),
        (["compress", "{remote}", "-d", "gsm8k"], "needs trust_remote_code to load"),
        (
            ["compress", "{tiny}", "-d", "gsm8k", "-m", "costly", "--episode-budget", "0.5"],
            "fastest setting needs about 1 s",
        ),
        (["eval", "{tiny}", "--evaluators", "gsm8k,speedometer"], "unknown evaluator 'speedometer'"),
        (["compress", "{tiny}", "-d", "gsm8k", "--track", "wandb9"], "unknown tracker 'wandb9'"),
        (["report", "{tmp}/no-run"], "is not an acf run directory"),
        (
            ["eval", "{tiny}", "--evaluators", "gsm8k", "--fidelity", "perfect"],
            "evaluator gsm8k has no fidelity 'perfect'",
        ),
        (
            ["eval", "{tiny}", "--evaluators", "commonsenseqa", "--data-path", "{bad_schema}"],
            "missing question, choices, answerKey",
        ),
        (["compress", "{tiny}", "-d", "gsm8k", "--strategy", "{s_range}"], "--strategy 1: step 1 (rtn): bits"),
        (["compress", "{tiny}", "-d", "gsm8k", "--strategy", "{s_order}"], "invalid step order rtn → magnitude"),
        (
            ["compress", "{tiny}", "-d", "gsm8k", "--strategy", "{s_method}"],
            "--strategy 1: step 1: unknown method 'gptq9'",
        ),
        (["compress", "{tiny}", "-d", "gsm8k", "--strategy", "{s_shape}"], "strategy 1 is not {"),
        (
            ["compress", "{tiny}", "-d", "gsm8k", "--strategy", "{bad_schema}"],
            "strategy 1 has unknown key(s) completion, prompt",
        ),
        (["compress", "{tiny}", "-d", "gsm8k", "--strategy", "{a_json}"], "is not valid JSON"),
        (["compress", "{tiny}", "-d", "gsm8k", "--strategy", "{tmp}/none.json"], "cannot read strategy file"),
        (
            ["compress", "{tiny}", "-d", "gsm8k", "--strategy", "{s_long}", "--max-steps", "1"],
            "more than --max-steps 1",
        ),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(
    args, message, acf_cli, acf_tiny_model, gsm8k_file, tmp_path, monkeypatch, my_plugin
):
    monkeypatch.chdir(tmp_path)  # the default run directory would be created under ./runs
    bad_schema = tmp_path / "bad.jsonl"
    bad_schema.write_text(json.dumps({"prompt": "x", "completion": "y"}) + "\n")
    config = json.loads((acf_tiny_model / "config.json").read_text())
    huge, remote = tmp_path / "huge", tmp_path / "remote"
    huge.mkdir()
    (huge / "config.json").write_text(
        json.dumps(
            {
                **config,
                "hidden_size": 65536,
                "intermediate_size": 262144,
                "num_hidden_layers": 200,
                "num_attention_heads": 512,
            }
        )
    )
    remote.mkdir()
    (remote / "config.json").write_text(
        json.dumps({**config, "model_type": "my_private_arch", "auto_map": {"AutoModelForCausalLM": "modeling.Mine"}})
    )
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    strategies = {
        "s_range": {"steps": [{"method": "rtn", "params": {"bits": 12}}]},
        "s_order": [{"steps": [{"method": "rtn"}, {"method": "magnitude"}]}],
        "s_method": {"steps": [{"method": "gptq9"}]},
        "s_shape": {"steps": "rtn"},
        "s_long": {"steps": [{"method": "magnitude"}, {"method": "rtn"}]},
    }
    (tmp_path / "a_json.json").write_text("{not json")
    for name, content in strategies.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(content))
    args = [
        a.format(
            tiny=acf_tiny_model,
            tmp=tmp_path,
            bad_schema=bad_schema,
            data=gsm8k_file,
            file=a_file,
            huge=huge,
            remote=remote,
            a_json=tmp_path / "a_json.json",
            **{k: tmp_path / f"{k}.json" for k in strategies},
        )
        for a in args
    ]
    code, out, err = acf_cli(args)
    assert code == 2, (out, err)
    first = err.splitlines()[0]
    assert first.startswith("Error: ") and message in first, err
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists(), "no run directory is left behind"


def test_debug_shows_the_traceback(acf_cli):
    with pytest.raises(Exception, match="not a model alias"):
        acf_cli(["compress", "no-such-alias", "-d", "gsm8k"], env={"ACF_DEBUG": "1"})


def test_compress_cli_end_to_end_json(acf_cli, acf_tiny_model, gsm8k_file, tmp_path):
    code, out, err = acf_cli(
        [
            "compress",
            str(acf_tiny_model),
            "-d",
            "gsm8k",
            "--data-path",
            str(gsm8k_file),
            "--limit",
            "8",
            "-n",
            "3",
            "--searcher",
            "random",
            "--run-dir",
            str(tmp_path / "r"),
            "-q",
            "--json",
        ]
    )
    assert code == 0, err
    final = json.loads(out)
    assert final["episodes"]["ok"] == 3 and final["recommended"]["id"].startswith("ep")
    config = json.loads((tmp_path / "r" / "run_config.json").read_text())
    assert config["searcher"] == "random" and config["evaluator_options"]["gsm8k"]["limit"] == 8


def test_runs_list_shows_finished_interrupted_and_running_runs(acf_cli, acf_tiny_model, gsm8k_file, tmp_path):
    import shutil

    import acf
    from acf.rundir.lock import RunLock

    acf.compress(
        str(acf_tiny_model),
        "gsm8k",
        run_dir=tmp_path / "runs" / "a",
        episodes=2,
        methods=["rtn"],
        evaluators=["size"],
        evaluator_options={"gsm8k": {"data_path": str(gsm8k_file), "limit": 6}},
    )
    shutil.copytree(tmp_path / "runs" / "a", tmp_path / "runs" / "b")
    (tmp_path / "runs" / "b" / "final_results.json").unlink()
    shutil.copytree(tmp_path / "runs" / "b", tmp_path / "runs" / "c")
    lock = RunLock(tmp_path / "runs" / "c")
    lock.acquire()
    try:
        code, out, err = acf_cli(["runs", "list", str(tmp_path / "runs"), "--json"])
    finally:
        lock.release()
    assert code == 0, err
    runs = {r["run_dir"].rsplit("/", 1)[-1]: r for r in json.loads(out)}
    assert {k: r["status"] for k, r in runs.items()} == {"a": "finished", "b": "interrupted", "c": "running"}
    assert runs["a"]["model"] == str(acf_tiny_model) and runs["a"]["episodes"] == 2 and runs["a"]["planned"] == 2
    assert runs["a"]["best_reward"] == max(
        c["reward"]
        for c in [json.loads((tmp_path / "runs" / "a" / f"episode_00{i}" / "result.json").read_text()) for i in (1, 2)]
    )
    code, out, err = acf_cli(["runs", "list", str(tmp_path / "nowhere")])
    assert code == 2 and "is not a folder" in err


def test_frontier_show_on_other_objectives(acf_cli, acf_tiny_model, gsm8k_file, tmp_path):
    import acf

    acf.compress(
        str(acf_tiny_model),
        "gsm8k",
        run_dir=tmp_path / "run",
        episodes=3,
        methods=["rtn", "magnitude"],
        evaluators=["size", "latency"],
        evaluator_options={"gsm8k": {"data_path": str(gsm8k_file), "limit": 6}},
    )
    code, out, err = acf_cli(
        ["frontier", "show", str(tmp_path / "run"), "--objectives", "gsm8k_loglik,latency_ms", "--json"]
    )
    assert code == 0, err
    frontier = json.loads(out)
    assert [m["name"] for m in frontier["objectives"]] == ["gsm8k_loglik", "latency_ms"]
    assert frontier["candidates"] and all("latency_ms" in c["measurements"] for c in frontier["candidates"])
    code, out, err = acf_cli(["frontier", "show", str(tmp_path / "run")])
    assert code == 0 and "★" in out and "recommended" in out
    code, out, err = acf_cli(["frontier", "show", str(tmp_path / "run"), "--objectives", "speed"])
    assert code == 2 and "no measured metric(s) speed" in err


def test_a_repeated_library_message_is_said_once_per_command(capsys):
    """Libraries that warn in a hot loop are said once: a warning whose filters are reset between calls, and a log
    record of a logger with no handler of its own (bitsandbytes' int8 cast warning: 10,080 lines in one run of the
    README's main command)."""
    import logging
    import warnings

    from acf.cli.quiet import say_each_once

    shown, root = warnings.showwarning, logging.getLogger()
    handlers, root.handlers = root.handlers, []  # as in `acf`: no handler configured (pytest adds its own)
    say_each_once()
    try:
        noisy = logging.getLogger("acf.tests.noisy_library")
        for _ in range(3):
            with warnings.catch_warnings():  # what resets the registry that would otherwise show it once
                warnings.simplefilter("always")
                warnings.warn("a warning from a hot loop", stacklevel=1)
            noisy.warning("MatMul8bitLt: inputs will be cast from %s to float16 during quantization", "torch.float32")
        noisy.warning("another message")
        first = capsys.readouterr().err.splitlines()
        say_each_once()  # the next command says them again
        noisy.warning("another message")
        again = capsys.readouterr().err.splitlines()
    finally:
        warnings.showwarning, root.handlers = shown, handlers
    assert first == [
        "Warning: a warning from a hot loop",
        "MatMul8bitLt: inputs will be cast from torch.float32 to float16 during quantization",
        "another message",
    ]
    assert again == ["another message"]
