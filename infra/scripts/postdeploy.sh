#!/bin/sh
# azd postdeploy hook (azure.yaml): runs after `azd deploy` / `azd up` with the azd environment's values in the
# environment. Prints what is left to do; changes nothing and never prints a secret or a key.
#
# Why the action group is a second step: its webhook URL carries the Function App's default host key, which the
# Functions host creates the first time it starts, i.e. only after the code has been deployed. So the first
# `azd up` provisions everything except the action group (the SNAT alerts already exist and fire in the portal), and
# `ALERT_WEBHOOK_ENABLED=true` + `azd provision` adds it once the key exists. infra/README.md has the details.
set -eu

app="${AZURE_FUNCTION_APP_NAME:-<function app>}"
url="${AZURE_FUNCTION_APP_URL:-https://<function app host>}"
principal="${RESPONDER_IDENTITY_PRINCIPAL_ID:-<identity principal id>}"

echo "snat-responder deployed to ${app} (${url})."

case "${ALERT_WEBHOOK_ENABLED:-false}" in
  true | True | TRUE | 1 | yes)
    echo "The SNAT alerts call ${url}/api/alerts through the action group."
    ;;
  *)
    echo "Next: connect the SNAT alerts to the responder (the function key exists now that the code is deployed):"
    echo "  azd env set ALERT_WEBHOOK_ENABLED true && azd provision"
    ;;
esac

echo "Once per cluster, as a cluster admin: bind the Kubernetes RBAC to the identity ${principal}:"
echo "  sed \"s/00000000-0000-0000-0000-000000000000/${principal}/\" infra/k8s/rbac.yaml \\"
echo "    | kubectl apply -f infra/k8s/namespace.yaml -f -"
