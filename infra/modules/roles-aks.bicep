// Deployed into the AKS cluster's resource group. Lets the responder call listClusterUserCredential (the API server
// URL and CA; lib/azure/kube-access.ts) and read the cluster, nothing else at the Azure level. What it may do inside
// the cluster is Kubernetes RBAC (infra/k8s/rbac.yaml, bound to this identity's object id), applied separately.
// Not granted: any "Azure Kubernetes Service RBAC *" role. Those are for clusters using Azure RBAC for Kubernetes
// authorization and are far broader than the calls the responder makes (infra/README.md).

param clusterName string
param principalId string

// Actions: Microsoft.ContainerService/managedClusters/listClusterUserCredential/action, managedClusters/read.
var aksClusterUserRoleId = '4abbcc35-e782-43d8-92c5-2d3f1bd2253f' // Azure Kubernetes Service Cluster User Role

resource cluster 'Microsoft.ContainerService/managedClusters@2024-02-01' existing = {
  name: clusterName
}

resource clusterUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(cluster.id, principalId, aksClusterUserRoleId)
  scope: cluster
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', aksClusterUserRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
