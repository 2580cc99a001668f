"""Side tools around the benchmark, each a `python -m moe.tools.<name>` command.

- `reproduce`: retrain committed runs from their records and compare;
- `cost`: what a grid costs, from its jobs' benchmark records;
- `benchmark`: training throughput against the reference PPO, and the arithmetic floor;
- `encoders`: the encoder sweep's cost and learning table (the choice of the default GAT);
- `coverage`: the simulation that chose the tables' interval;
- `probe`: a linear probe of the intent on a trained agent's features;
- `params`: an agent's parameter count, and the width at which one expert has as many as K.
"""
