"""The code that runs first in the sandbox's child process (`python -I -S -c GUARD`), before any generated code.

Kept as a string: it is the child's whole program. Its steps, in order, while the process is still trusted:

1. resource limits (address space, CPU seconds, file size, open files, no core dumps);
2. its own network namespace where the kernel allows it;
3. Landlock (Linux ≥ 5.13), where available: the kernel refuses every write, delete, rename, link or device
   access outside the sandbox directory and every read outside it and Python's own installation (so not
   /proc/self/mem, nor a token in the user's home), whatever path, symlink or `dir_fd` the program uses; TCP
   connect/bind (ABI ≥ 4) and signals or abstract sockets out of the sandbox (ABI ≥ 6) too;
4. reads the job — a per-run random token, the program, its test and entry point — from a pipe that is then
   closed, and keeps it only in a function's local variables;
5. installs an audit hook (it cannot be removed) refusing processes, threads, sockets, native code, frame and
   garbage-collector introspection, tracing, `/proc` and `/dev`, writes outside the directory, any operation on
   a directory file descriptor outside it, and opening a directory outside it;
6. runs the program, restores the builtins it may have changed, runs the test's code, calls
   `check(entry_point)` itself (the program's text cannot comment it out or end before it), and only when that
   returns writes the token as the last line of its private output. The parent counts a pass only for that
   token followed by exit status 0: no exit code alone, nothing the program could print before the check.
"""

GUARD = r'''
def _main():
    import json, os, sys, resource, ctypes
    memory_mb, cpu_seconds, job_fd, use_landlock = (int(x) for x in sys.argv[1:5])
    for which, value in ((resource.RLIMIT_AS, memory_mb * 2**20), (resource.RLIMIT_CPU, cpu_seconds),
                         (resource.RLIMIT_FSIZE, 16 * 2**20), (resource.RLIMIT_NOFILE, 64), (resource.RLIMIT_CORE, 0)):
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass
    sandbox = os.path.realpath(os.getcwd())
    libc = ctypes.CDLL(None, use_errno=True)
    netns = libc.unshare(0x40000000) == 0 or (os.geteuid() != 0 and libc.unshare(0x10000000 | 0x40000000) == 0)
    # readable: the interpreter's own installation and the system's shared libraries (public files only)
    readable = [sys.base_prefix, sys.prefix, sys.base_exec_prefix, "/usr/lib", "/lib", "/usr/lib64", "/lib64"]
    landlock = use_landlock and _landlock(ctypes, libc, sandbox, readable)
    job = json.loads(_read_all(os, job_fd))
    os.close(job_fd)
    out = os.dup(1)  # the guard's private channel; the program's own prints go nowhere
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    os.write(out, f"ACF-SANDBOX netns={int(netns)} landlock={int(landlock)}\n".encode())
    token, source, test, entry = job.pop("token"), job["source"], job["test"], job["entry_point"]
    del job
    for name in [m for m in sys.modules if m.partition(".")[0] in _IMPORTS]:
        del sys.modules[name]
    del ctypes, libc, resource
    import builtins
    saved = dict(builtins.__dict__)
    sys.addaudithook(_hook(os, sandbox))
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    exec(compile(source, "program.py", "exec"), namespace)
    if test is not None:
        builtins.__dict__.clear()
        builtins.__dict__.update(saved)  # a program that patched abs(), isinstance(), … cannot pass the test
        namespace["__builtins__"] = builtins  # nor one that swapped its namespace's builtins
        exec(compile(test, "test.py", "exec"), namespace)
        namespace["check"](namespace[entry])
    os.write(out, f"\n{token}\n".encode())

def _read_all(os, fd):
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)

def _landlock(ctypes, libc, sandbox, read_only):
    """Restrict this process's file-system (and, by ABI, TCP and signal) access; returns the ABI, 0 if none."""
    abi = libc.syscall(444, None, 0, 1)  # landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
    if abi < 1:
        return 0
    fs = (1 << 13) - 1 | (1 << 13 if abi >= 2 else 0) | (1 << 14 if abi >= 3 else 0) | (1 << 15 if abi >= 5 else 0)
    net = 0b11 if abi >= 4 else 0
    scoped = 0b11 if abi >= 6 else 0
    attr = (ctypes.c_uint64 * 3)(fs, net, scoped)
    size = 24 if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset = libc.syscall(444, ctypes.byref(attr), size, 0)
    if ruleset < 0:
        return 0

    class Beneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    import os
    reading = (1 << 0) | (1 << 2) | (1 << 3)  # execute (the interpreter's own libraries), read file, read dir
    rules = [(sandbox, fs), ("/dev/null", (1 << 1) | (1 << 2)), ("/dev/urandom", 1 << 2)]
    rules += [(p, reading) for p in dict.fromkeys(os.path.realpath(p) for p in read_only)]
    for path, access in rules:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        rule = Beneath(access & fs, fd)
        libc.syscall(445, ruleset, 1, ctypes.byref(rule), 0)  # landlock_add_rule(PATH_BENEATH)
        os.close(fd)
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS: required to restrict oneself without privileges
    done = libc.syscall(446, ruleset, 0) == 0  # landlock_restrict_self
    os.close(ruleset)
    return abi if done else 0

# Modules that reach the OS below the audited functions (raw fork/exec, native calls, sockets, limits, fds).
# threading, gc and inspect may be imported (the standard library does): walking the heap, reaching a frame and
# tracing are refused at the audit hook instead. A thread gains a program nothing it could not do directly.
_IMPORTS = {"_posixsubprocess", "subprocess", "_ctypes", "ctypes", "_socket", "socket", "pty", "multiprocessing",
            "_multiprocessing", "resource", "signal", "_signal", "mmap", "fcntl", "posix", "_posixshmem",
            "faulthandler", "_tracemalloc", "tracemalloc"}
_BLOCKED = {"os.fork", "os.forkpty", "os.posix_spawn", "os.system", "os.startfile", "subprocess.Popen",
            "pty.spawn", "os.kill", "os.killpg", "signal.pthread_kill", "os.setuid", "socket.__new__",
            "socket.connect", "socket.bind", "socket.getaddrinfo", "socket.sendto", "ctypes.dlopen", "ctypes.dlsym",
            "ctypes.call_function", "ctypes.addressof", "ctypes.cdata", "os.chroot", "sys.addaudithook",
            "os.unshare", "os.setns", "mmap.__new__", "sys._current_frames", "sys.settrace",
            "sys.setprofile", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
            "sys._current_exceptions", "cpython.PyInterpreterState_New", "sys.monitoring.register_callback",
            "os.exec", "os.spawn", "os.truncate", "os.mknod", "os.mkfifo"}
_FRAMES = {"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back", "f_locals", "f_globals"}
# Path arguments per event, and where its dir_fd arguments are (the event's own argument order).
_PATHS = {"os.remove": (1, (1,)), "os.rmdir": (1, (1,)), "os.rename": (2, (2, 3)), "os.link": (2, (2, 3)),
          "os.symlink": (2, (2,)), "os.chmod": (1, (2,)), "os.chown": (1, (3,)), "os.mkdir": (1, (2,)),
          "os.utime": (1, (3,)), "os.chdir": (1, ()),
          "os.chflags": (1, ()), "os.lchflags": (1, ()), "os.setxattr": (1, ()), "os.removexattr": (1, ()),
          "shutil.rmtree": (1, (1,)), "shutil.copyfile": (2, ()), "shutil.copytree": (2, ()), "shutil.move": (2, ()),
          "os.fwalk": (1, (4,))}

def _hook(os, sandbox):
    realpath, isdir, readlink, sep, fsdecode = os.path.realpath, os.path.isdir, os.readlink, os.sep, os.fsdecode
    closed = ("/proc", "/dev", "/sys")

    def inside(path):
        if isinstance(path, int):  # a file descriptor: where does it point?
            try:
                path = readlink(f"/proc/self/fd/{path}")
            except OSError:
                return False
        try:
            real = realpath(fsdecode(path))
        except (TypeError, ValueError):
            return False
        return real == sandbox or real.startswith(sandbox + sep)

    def hook(event, args):
        if event == "import" and args[0].partition(".")[0] in _IMPORTS:
            raise ImportError(f"sandbox: importing {args[0]} is not allowed")
        if event in _BLOCKED or event.startswith(("os.exec", "os.spawn", "os.posix_spawn")):
            raise PermissionError(f"sandbox: {event} is not allowed")
        # Frames lead to the guard's locals (the token). The errors are the ones the standard library already
        # expects where frames are unavailable (collections.namedtuple, typing and enum fall back quietly).
        if event == "sys._getframe":
            raise ValueError("sandbox: frames are not available")
        if event == "object.__getattr__" and args[1] in _FRAMES:
            raise AttributeError(f"sandbox: {args[1]} is not available")
        if event == "open":
            path, mode, flags = args
            if path is None or isinstance(path, int):
                return
            name = fsdecode(path)
            real = realpath(name)
            if real != sandbox and not real.startswith(sandbox + sep):
                if real.startswith(closed) and real not in ("/dev/null", "/dev/urandom"):
                    raise PermissionError(f"sandbox: opening {name!r} is not allowed")
                writing = (mode and any(c in mode for c in "wax+")) or (flags and flags & (
                    os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND))
                if writing or isdir(real):  # a directory fd outside would be a dir_fd for escapes
                    raise PermissionError(f"sandbox: opening {name!r} outside the sandbox directory")
        elif event in _PATHS:
            count, dir_fds = _PATHS[event]
            for path in args[:count]:
                if path is not None and not inside(path) and not (event == "os.symlink" and path is args[1]):
                    raise PermissionError(f"sandbox: {event} on {path!r} outside the sandbox directory")
            if event == "os.symlink" and not inside(args[0]):
                raise PermissionError(f"sandbox: a symlink to {args[0]!r} outside the sandbox directory")
            for i in dir_fds:
                if i < len(args) and args[i] not in (None, -100) and not inside(args[i]):
                    raise PermissionError(f"sandbox: {event} with a directory descriptor outside the sandbox")
    return hook

_main()
'''
