# What the dkimpy-based oracles (dkimpy_oracle.py, arcpy_oracle.py) share:
# a directory holding dns.txt ("<name> <TXT value>" lines, served to dkimpy's
# dnsfunc) and jobs.txt (tab-separated jobs whose second field is the input
# message file and third the output file).
import os


def run(d, handle):
    """Calls handle(fields, message, read, dnsfunc) -> bytes for each job and
    writes what it returns to the job's output file."""
    dns = {}
    with open(os.path.join(d, "dns.txt"), "rb") as f:
        for line in f:
            line = line.rstrip(b"\r\n")
            if line:
                name, value = line.split(b" ", 1)
                dns[name.lower().rstrip(b".")] = value

    def dnsfunc(name, timeout=5):
        if isinstance(name, str):
            name = name.encode()
        return dns.get(name.lower().rstrip(b"."))

    def read(p):
        with open(os.path.join(d, p), "rb") as f:
            return f.read()

    with open(os.path.join(d, "jobs.txt")) as jobs:
        for job in jobs:
            f = job.rstrip("\n").split("\t")
            if not f or not f[0]:
                continue
            out = handle(f, read(f[1]), read, dnsfunc)
            with open(os.path.join(d, f[2]), "wb") as o:
                o.write(out)
