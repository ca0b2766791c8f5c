"""The HumanEval sandbox against a corpus of hostile completions: exit-code tricks, interpreter hooks, file-system
escapes, process and network attempts, resource exhaustion. Every one fails and leaves nothing changed outside the
sandbox — with Landlock, and with the audit hook alone (as on kernels without Landlock); a correct one passes."""

import os
import stat

import pytest

from acf_plugins_builtin.evaluators.tasks import humaneval as he
from acf_plugins_builtin.evaluators.tasks.sandbox import run_program

PROMPT = 'def add(a, b):\n    """Return a + b."""\n'
TEST = "def check(candidate):\n    assert abs(candidate(1, 2) - 3) < 1e-9\n    assert candidate(-1, 1) == 0\n"
RIGHT = "    return a + b\n"
WRONG = "    return 0\n"

# A wrong implementation that tries to be counted as passing anyway.
EXIT_TRICKS = {
    "sys.exit(0)": WRONG + "import sys\nsys.exit(0)\n",
    "os._exit(0)": WRONG + "import os\nos._exit(0)\n",
    "raise SystemExit": WRONG + "raise SystemExit(0)\n",
    "exit()": WRONG + "exit()\n",
    "atexit exits 0 after the failed check": WRONG + "import atexit, os\natexit.register(os._exit, 0)\n",
    "excepthook exits 0": WRONG + "import sys, os\nsys.excepthook = lambda *a: os._exit(0)\n",
    "forged token on every fd": WRONG
    + (
        "import os\nfor fd in range(64):\n    try:\n        os.write(fd, b'\\n' + b'0' * 32 + b'\\n')\n"
        "    except OSError:\n        pass\nos._exit(0)\n"
    ),
    "the test swallowed by an open string": WRONG + "'''\n",
    "its own check": WRONG + "def check(candidate):\n    return True\n",
    "patched builtins": WRONG + "import builtins\nbuiltins.abs = lambda x: 0\nbuiltins.AssertionError = KeyError\n",
    "swapped namespace builtins": WRONG + "globals()['__builtins__'] = {'abs': lambda x: 0}\n",
    "check replaced in the namespace later": WRONG + "import sys\nsys.modules['__main__'].check = lambda c: None\n",
}


# A right implementation that also tries to reach what it must not.
def escapes(out: str) -> dict[str, str]:
    canary = os.path.join(out, "canary.txt")
    return {
        "read the guard's frames": "import sys\nf = sys._getframe(0)\nwhile f:\n    f.f_locals\n    f = f.f_back\n",
        "frames through a traceback": "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    e.__traceback__.tb_frame\n",
        "a generator's frame": "def g():\n    yield 1\ng().gi_frame\n",
        "scan the heap": "import gc\nfor o in gc.get_objects():\n    pass\n",
        "trace calls": "import sys\nsys.settrace(lambda *a: None)\n",
        "profile calls": "import sys\nsys.setprofile(lambda *a: None)\n",
        "trace every thread": (
            "import threading\nseen = []\nthreading.settrace(lambda *a: seen.append(a))\n"
            "t = threading.Thread(target=int)\nt.start()\nt.join()\nassert seen\n"
        ),
        "read its own memory": "open('/proc/self/mem', 'rb')\n",
        "read its command line": "open('/proc/self/cmdline').read()\n",
        "read the job pipe": "import os, sys\nos.read(int(sys.argv[3]), 100)\n",
        "write outside": f"open({canary!r}, 'w').write('x')\n",
        "append outside": f"open({canary!r}, 'a').write('x')\n",
        "pathlib outside": f"import pathlib\npathlib.Path({out!r}, 'new.txt').write_text('x')\n",
        "create with dir_fd": f"import os\nfd = os.open({out!r}, os.O_RDONLY)\n"
        "os.open('created.txt', os.O_CREAT | os.O_WRONLY, dir_fd=fd)\n",
        "unlink with dir_fd": f"import os\nfd = os.open({out!r}, os.O_RDONLY)\nos.unlink('canary.txt', dir_fd=fd)\n",
        "an O_PATH directory": f"import os\nfd = os.open({out!r}, os.O_PATH)\nos.mkdir('made', dir_fd=fd)\n",
        "symlink out, write through it": f"import os\nos.symlink({canary!r}, 'link')\nopen('link', 'w').write('x')\n",
        "relative symlink out": f"import os\nos.symlink(os.path.relpath({out!r}), 'up')\n"
        "open('up/new.txt', 'w').write('x')\n",
        "hard link in, write through it": f"import os\nos.link({canary!r}, 'hard')\nopen('hard', 'w').write('x')\n",
        "rename out": f"import os\nopen('x', 'w').write('x')\nos.rename('x', {os.path.join(out, 'moved.txt')!r})\n",
        "rename the canary in": f"import os\nos.rename({canary!r}, 'stolen.txt')\n",
        "replace the canary": f"import os\nopen('x', 'w').write('x')\nos.replace('x', {canary!r})\n",
        "copy out": f"import shutil\nopen('x', 'w').write('x')\nshutil.copy('x', {out!r})\n",
        "delete the folder": f"import shutil\nshutil.rmtree({out!r})\n",
        "delete the canary": f"import os\nos.remove({canary!r})\n",
        "make a folder outside": f"import os\nos.mkdir({os.path.join(out, 'made')!r})\n",
        "chdir out, then write": f"import os\nos.chdir({out!r})\nopen('new.txt', 'w').write('x')\n",
        "chmod the canary": f"import os\nos.chmod({canary!r}, 0o777)\n",
        "touch the canary": f"import os\nos.utime({canary!r}, (0, 0))\n",
        "truncate the canary": f"import os\nos.truncate({canary!r}, 0)\n",
        "a temp file in /tmp": "import tempfile\ntempfile.mkstemp()\n",
        "shared memory": "open('/dev/shm/acf-escape', 'w').write('x')\n",
        "fork": "import os\nos.fork()\n",
        "fork bomb": "import os\nwhile True:\n    os.fork()\n",
        "subprocess": f"import subprocess\nsubprocess.run(['touch', {os.path.join(out, 'p')!r}])\n",
        "shell": f"import os\nos.system('touch {os.path.join(out, 's')}')\n",
        "posix_spawn": f"import os\nos.posix_spawn('/usr/bin/touch', ['touch', {os.path.join(out, 'q')!r}], {{}})\n",
        "exec": "import os\nos.execv('/bin/true', ['true'])\n",
        "posix behind os": "import sys\nsys.modules['posix'].system('true')\n",
        "kill the parent": "import os\nos.kill(os.getppid(), 9)\n",
        "network": "import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=1)\n",
        "raw network": "import _socket\n_socket.socket()\n",
        "native code": "import ctypes\nctypes.CDLL(None).system(b'true')\n",
        "memory": "x = bytearray(8 * 2**30)\n",
        "infinite loop": "while True:\n    pass\n",
        "recursion": "def r():\n    return r()\nr()\n",
        "a huge file inside": "with open('big', 'wb') as fh:\n    fh.write(b'x' * 64 * 2**20)\n",
        "many files": "fhs = [open(f'f{i}', 'w') for i in range(1000)]\n",
    }


def snapshot(folder) -> dict:
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            content = open(path, "rb").read() if stat.S_ISREG(st.st_mode) else None
            out[os.path.relpath(path, folder)] = (st.st_mode, st.st_mtime_ns, content)
    return out


def run(completion: str, landlock: bool):
    return run_program(PROMPT + completion, test=TEST, entry_point="add", timeout=3, memory_mb=512, landlock=landlock)


@pytest.mark.parametrize("landlock", [True, False], ids=["landlock", "audit-hook-only"])
def test_every_hostile_completion_fails_and_leaves_nothing_outside(tmp_path, landlock):
    out = tmp_path / "outside"
    out.mkdir()
    (out / "canary.txt").write_text("canary")
    before = snapshot(out)
    assert run(RIGHT, landlock).passed  # the harness passes a right answer
    cases = {**EXIT_TRICKS, **{name: RIGHT + src for name, src in escapes(str(out)).items()}}
    passed = [name for name, completion in cases.items() if run(completion, landlock).passed]
    assert passed == []
    assert snapshot(out) == before
    assert not os.path.exists("/dev/shm/acf-escape")


def test_landlock_also_keeps_files_outside_unreadable(tmp_path):
    secret = tmp_path / "token"
    secret.write_text("hf_secret")
    outcome = run(RIGHT + f"open({str(secret)!r}).read()\n", landlock=True)
    if outcome.isolation.get("landlock"):
        assert not outcome.passed and "Permission denied" in outcome.reason
    else:
        pytest.skip("this kernel has no Landlock")


def test_the_guard_cannot_be_replaced_or_joined():
    # CPython refuses (silently) to add a hook when an existing one objects: the program runs on, still guarded
    program = (
        "import sys\nsys.addaudithook(lambda *a: None)\n"
        "try:\n    open('/proc/self/mem', 'rb')\nexcept PermissionError:\n    pass\nelse:\n    raise SystemExit(3)\n"
    )
    assert run(RIGHT + program, landlock=False).passed


def test_outcomes_say_how_the_program_was_isolated_and_are_reproducible():
    outcomes = [run(RIGHT, landlock=True) for _ in range(3)] + [run(WRONG, landlock=True) for _ in range(3)]
    assert [o.passed for o in outcomes] == [True] * 3 + [False] * 3
    assert len({o.reason for o in outcomes[3:]}) == 1
    assert set(outcomes[0].isolation) == {"netns", "landlock"}


def test_humaneval_programs_run_the_check_the_harness_calls(tmp_path):
    problems = he.HumanEval._packaged()[:3]
    results = he.execute([he.program(p, p["canonical_solution"]) for p in problems], timeout=20)
    assert [o.passed for o in results] == [True, True, True]
    # a completion that ends the module early cannot skip the check: the guard calls it
    trick = he.program(problems[0], "    return None\nraise SystemExit(0)\n")
    assert not he.execute([trick], timeout=20)[0].passed
