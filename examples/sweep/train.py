"""Train a linear model with an elastic-net penalty by SGD, one epoch at a time, and log the
validation RMSE after every epoch (``mlflow.log_metric(step=epoch)``): the intermediate values
a Sweep's early stopping judges a trial by.

``--handicap shuffled`` makes a trial bad on purpose: it trains on shuffled labels (no signal, so
its RMSE stays near the labels' spread) and sleeps ``--handicap-sleep`` seconds after each epoch,
so early stopping has time to see it and stop it. A sweep that searches ``handicap`` over
``[none, shuffled]`` therefore has trials that median stopping must reject (the e2e test counts
them). Leave it at ``none`` for a real search.
"""

from __future__ import annotations

import argparse
import time

import mlflow
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import SGDRegressor
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float, default=0.001)
    parser.add_argument("--l1-ratio", type=float, default=0.5)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--handicap", choices=("none", "shuffled"), default="none")
    parser.add_argument("--handicap-sleep", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    features, target = load_diabetes(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        features, target, test_size=0.25, random_state=args.seed
    )
    scaler = StandardScaler().fit(x_train)
    x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)
    rng = np.random.default_rng(args.seed)
    if args.handicap == "shuffled":
        y_train = rng.permutation(y_train)
    model = SGDRegressor(
        penalty="elasticnet",
        alpha=args.alpha,
        l1_ratio=args.l1_ratio,
        learning_rate="invscaling",
        eta0=0.01,
        random_state=args.seed,
    )
    # Inside a Run's Job, MLFLOW_RUN_ID makes this continue the Run the operator created.
    with mlflow.start_run():
        rmse = float("nan")
        for epoch in range(args.epochs):
            for batch in np.array_split(rng.permutation(len(x_train)), 8):
                model.partial_fit(x_train[batch], y_train[batch])
            rmse = float(mean_squared_error(y_val, model.predict(x_val)) ** 0.5)
            mlflow.log_metric("val_rmse", rmse, step=epoch)
            print(f"epoch {epoch}: val_rmse={rmse:.3f}", flush=True)
            if args.handicap != "none":
                time.sleep(args.handicap_sleep)
        print(f"alpha={args.alpha} l1_ratio={args.l1_ratio}: val_rmse={rmse:.3f}")


if __name__ == "__main__":
    main()
