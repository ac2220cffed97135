// Deployed into the AKS node resource group (MC_...), where the cluster's load balancer lives. Grants the responder
// read access to that load balancer's metrics (AllocatedSnatPorts, UsedSnatPorts, SnatConnectionCount per
// BackendIPAddress; lib/azure/metrics.ts), scoped to the load balancer itself: narrower than the node resource group,
// and the only resource there whose metrics the responder reads.

param loadBalancerName string
param principalId string

// The built-in role Azure Monitor documents for reading metrics (actions */read, at this scope only).
var monitoringReaderRoleId = '43d0d8ad-25c7-4714-9337-8ba259a9fe05' // Monitoring Reader

resource loadBalancer 'Microsoft.Network/loadBalancers@2023-11-01' existing = {
  name: loadBalancerName
}

resource metricsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(loadBalancer.id, principalId, monitoringReaderRoleId)
  scope: loadBalancer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringReaderRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
