"""Where does a training step's time go? cProfile of glassnet's training steps for one model.

    python bench/profile_step.py gpt [--steps 10] [--threads 1] [--top 25] [--infer]

The model, batch and training step are those of bench_models.py (bench/child.py).
Prints the functions with the most own time (time inside the function itself). With
``--infer``, profiles the eval-mode forward passes without autograd that bench_models.py
times for inference, in place of training steps.
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
    parser.add_argument("--infer", action="store_true", help="profile inference, not training")
    args = parser.parse_args()
    runner = GlassnetRunner(workload(args.model))
    runner.set_threads(args.threads)
    run = (lambda steps: runner.infer(steps, args.threads, warmup=0)) if args.infer else runner.train_steps
    run(2)  # warm-up
    profiler = cProfile.Profile()
    profiler.enable()
    run(args.steps)
    profiler.disable()
    pstats.Stats(profiler).strip_dirs().sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
