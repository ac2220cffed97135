// The responder's one identity: a user-assigned managed identity. User-assigned (not system-assigned) so it exists
// before the Function App, its roles can be granted in the same deployment, and the Kubernetes RBAC binding
// (infra/k8s/rbac.yaml) survives a re-created Function App.

param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
