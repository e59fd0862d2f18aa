"""The one measuring loop of the Python benchmark drivers.

best_of_three(step, seconds) runs step() (which does some work and returns
how many items it handled) once to warm up, then until `seconds` of process
CPU have passed, three times over, and prints "BENCH best r1 r2 r3" in items
per CPU second, the line bench/run.sh reads.
"""
import time


def best_of_three(step, seconds):
    step()  # warm-up
    rounds = []
    for _ in range(3):
        n = 0
        start = time.process_time()
        while True:
            n += step()
            used = time.process_time() - start
            if used >= seconds:
                break
        rounds.append(n / used)
    print("BENCH %.1f %s" % (max(rounds), " ".join("%.1f" % r for r in rounds)))
