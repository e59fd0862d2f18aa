"""What the scripts that write the committed seeds (make-seeds.py,
make-seeds-text.py) share: how a seed lands in fuzz/seeds/<target>/."""
import os

SEEDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")


def put(target, name, data, encoding):
    """Writes seed name of target: bytes as they are, a str in encoding
    (each script's own, so that its seeds keep their bytes)."""
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode(encoding)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
