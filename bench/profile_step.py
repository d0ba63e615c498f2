"""Where does a training step's time go? cProfile of glassnet's training steps for one model.

    python bench/profile_step.py gpt [--steps 10] [--threads 1] [--top 25]

Prints the functions with the most own time (time inside the function itself).
"""
import argparse
import cProfile
import pstats
import sys

from threadpoolctl import threadpool_limits

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from bench_models import build_glassnet, glassnet_stepper, image_batches, text_batches  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    batches = text_batches(args.steps) if args.model == "gpt" else image_batches(args.steps, synthetic=True)
    model, _ = build_glassnet(args.model)
    step = glassnet_stepper(model)
    with threadpool_limits(limits=args.threads):
        for inputs, targets in batches[:2]:
            step(inputs, targets)
        profiler = cProfile.Profile()
        profiler.enable()
        for inputs, targets in batches:
            step(inputs, targets)
        profiler.disable()
    pstats.Stats(profiler).strip_dirs().sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
