"""Train an ElasticNet on scikit-learn's diabetes data and log it with the mlflow client.

Run by mlkube as a Job (MLFLOW_TRACKING_URI, MLFLOW_RUN_ID and MLFLOW_EXPERIMENT_ID are set), or
locally with `python train.py` against any tracking server.
"""

from __future__ import annotations

import argparse

import mlflow
import mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--l1-ratio", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    features, target = load_diabetes(return_X_y=True, as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(
        features, target, test_size=0.25, random_state=args.seed
    )
    # Inside a Run's Job, MLFLOW_RUN_ID makes this continue the Run the operator created.
    with mlflow.start_run():
        mlflow.log_params({"alpha": args.alpha, "l1_ratio": args.l1_ratio, "seed": args.seed})
        model = ElasticNet(alpha=args.alpha, l1_ratio=args.l1_ratio, random_state=args.seed)
        model.fit(x_train, y_train)
        predicted = model.predict(x_test)
        rmse = mean_squared_error(y_test, predicted) ** 0.5
        mlflow.log_metrics(
            {
                "rmse": rmse,
                "mae": mean_absolute_error(y_test, predicted),
                "r2": r2_score(y_test, predicted),
            }
        )
        for step, fraction in enumerate((0.25, 0.5, 0.75, 1.0)):
            rows = max(2, int(len(x_train) * fraction))
            partial = ElasticNet(alpha=args.alpha, l1_ratio=args.l1_ratio, random_state=args.seed)
            partial.fit(x_train[:rows], y_train[:rows])
            mlflow.log_metric("train_r2", partial.score(x_train[:rows], y_train[:rows]), step=step)
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(x_test, predicted),
            input_example=x_test.head(3),
        )
        print(f"alpha={args.alpha} l1_ratio={args.l1_ratio}: rmse={rmse:.3f}")


if __name__ == "__main__":
    main()
