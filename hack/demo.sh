#!/usr/bin/env bash
# `make demo`, the main job: the local control plane, the Helm chart, and the quickstart end to end
# (train -> track -> register -> serve), saying what happened and where to look.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
STATE=${MLKUBE_STATE:-.local}   # where the stack keeps its state (tests use a temporary one)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "the local cluster: control plane, a real node (kubelet, containerd, runc), mlkube's images; then the chart"
$PYTHON -m e2e.cluster up --platform chart --state "$STATE"
# shellcheck disable=SC1091
source "$STATE/env"
kubectl get nodes -o wide
kubectl get pods,pvc -n mlkube-system -o wide

step "training examples/sklearn-elasticnet as a Run (a Kubernetes Job)"
name="elasticnet-$(date +%H%M%S)"
$PYTHON -m mlkube.cli run examples/sklearn-elasticnet --experiment elasticnet \
  -P alpha=0.05 --name "$name" --wait --timeout 900
kubectl get runs -o wide

step "MLflow's view: the stock mlflow client against the tracking server ($MLFLOW_TRACKING_URI)"
$PYTHON - <<'PY'
from mlflow.tracking import MlflowClient

client = MlflowClient()
experiment = client.get_experiment_by_name("elasticnet")
for run in client.search_runs([experiment.experiment_id], order_by=["metrics.rmse ASC"]):
    metrics = ", ".join(f"{k}={v:.3f}" for k, v in sorted(run.data.metrics.items()))
    print(f"run {run.info.run_id} {run.info.status}: alpha={run.data.params['alpha']} {metrics}")
PY

step "registering the model (examples/serving) and naming it champion"
run_id=$(kubectl get run "$name" -o jsonpath='{.status.runId}')
kubectl apply -f examples/serving/registered-model.yaml
sed "s/RUN_ID/$run_id/g" examples/serving/model-version.yaml | kubectl apply -f -
kubectl wait --for=jsonpath='{.status.phase}'=Ready "modelversion/diabetes-from-$run_id" --timeout=180s
version=$(kubectl get modelversion "diabetes-from-$run_id" -o jsonpath='{.status.version}')
kubectl patch registeredmodel diabetes --type=merge -p "{\"spec\":{\"aliases\":{\"champion\":$version}}}"
kubectl get registeredmodels,modelversions

step "serving champion (examples/serving/deployment.yaml)"
kubectl apply -f examples/serving/deployment.yaml
kubectl wait --for=jsonpath='{.status.phase}'=Ready modeldeployment/diabetes --timeout=300s
kubectl get modeldeployments,deployments,services
url=$(kubectl get modeldeployment diabetes -o jsonpath='{.status.url}')
echo "POST $url/invocations"
$PYTHON - "$url" <<'PY'
import json, sys, urllib.request

body = open("examples/serving/request.json", "rb").read()
request = urllib.request.Request(sys.argv[1] + "/invocations", body, {"Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=30) as response:
    print(json.loads(response.read()))
PY

step "where to look next"
cat <<TXT
  source $STATE/env                             # KUBECONFIG, MLFLOW_TRACKING_URI, object storage
  kubectl get mlkube                            # every mlkube resource
  kubectl describe run $name   # conditions and Events
  kubectl logs job/$name       # what the training printed
  kubectl logs -n mlkube-system deploy/mlkube-operator
  curl -s -d @examples/serving/request.json -H 'Content-Type: application/json' $url/invocations
  make down                                     # stop everything and remove the state
TXT
