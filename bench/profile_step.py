"""Where does a training step's time go? cProfile of glassnet's training steps for one model.

    python bench/profile_step.py gpt [--steps 10] [--threads 1] [--top 25]

The model, batch and training step are those of bench_models.py (bench/child.py).
Prints the functions with the most own time (time inside the function itself).
"""
import argparse
import cProfile
import pstats
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from child import GlassnetRunner, workload  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    runner = GlassnetRunner(workload(args.model))
    runner.set_threads(args.threads)
    runner.train_steps(2)  # warm-up
    profiler = cProfile.Profile()
    profiler.enable()
    runner.train_steps(args.steps)
    profiler.disable()
    pstats.Stats(profiler).strip_dirs().sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
