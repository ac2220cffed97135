// snat-responder: everything `azd up` provisions. Subscription scope, because besides its own resource group the
// responder needs one role assignment in the AKS node resource group (the load balancer's metrics) and one on the
// AKS cluster, which usually live in other resource groups (possibly other subscriptions).
//
// Modules (infra/README.md documents each, every parameter and every role assignment):
//   identity            user-assigned managed identity: the responder's only credential
//   monitoring          Log Analytics + Application Insights (Entra-only ingestion)
//   host-storage        AzureWebJobsStorage / Durable task hub / deployment package, identity-only
//   report-storage      reports account + container + lifecycle rules, identity-only
//   roles-app           data-plane roles on the two accounts and App Insights
//   roles-load-balancer Monitoring Reader on the load balancer (deployed into the node resource group)
//   roles-aks           AKS Cluster User Role on the cluster (deployed into the cluster's resource group)
//   function-app        Flex Consumption plan + Function App (Node 20) + app settings
//   action-group        webhook -> POST /api/alerts (only when alertWebhookEnabled: needs the deployed code's key)
//   alerts              UsedSnatPorts and failed SnatConnectionCount metric alerts, split per node
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names the resource group and seeds the unique resource names.')
param environmentName string

@minLength(1)
@description('Region of the responder resources. Must offer the Flex Consumption plan.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group for the responder; empty = rg-<environmentName>.')
param resourceGroupName string = ''

@description('The AKS cluster the responder investigates (/subscriptions/.../providers/Microsoft.ContainerService/managedClusters/<name>).')
param aksClusterId string

@description('The outbound load balancer of the cluster, in its node resource group (/subscriptions/.../resourceGroups/MC_.../providers/Microsoft.Network/loadBalancers/kubernetes).')
param loadBalancerId string

@description('Nodes in the load balancer backend pool (all node pools); picks the AKS default SNAT ports per node.')
@minValue(1)
@maxValue(1000)
param aksNodeCount int

@description('Outbound ports allocated per node when the cluster sets them (allocatedOutboundPorts); 0 = AKS default.')
@minValue(0)
@maxValue(64000)
param allocatedOutboundPorts int = 0

@description('UsedSnatPorts alert threshold, in percent of the allocated ports per node.')
@minValue(1)
@maxValue(100)
param usedSnatPortsPercent int = 80

@description('Failed SNAT connections per node in 5 minutes above which the failure alert fires.')
@minValue(0)
param failedConnectionsThreshold int = 0

@description('Create the action group that calls POST /api/alerts. Leave false until the code has been deployed once (the function key does not exist before).')
param alertWebhookEnabled bool = false

@description('How the responder gets kube credentials (SNAT_AKS_ACCESS).')
@allowed([
  'entra'
  'local-account'
])
param aksAccess string = 'entra'

@description('Durable Functions task hub name (SNAT_TASK_HUB): 3-45 letters and digits, starting with a letter.')
@minLength(3)
@maxLength(45)
param taskHubName string = 'snatresponder'

@description('Namespace of the capture Jobs (SNAT_CAPTURE_NAMESPACE); infra/k8s/namespace.yaml creates it.')
param captureNamespace string = 'snat-responder-capture'

@description('Capture Job image (SNAT_CAPTURE_IMAGE); empty = the built-in default.')
param captureImage string = ''

@description('Comma-separated CIDRs that do not use SNAT (SNAT_PRIVATE_CIDRS): VNet, peerings, private endpoints.')
param privateCidrs string = ''

@description('Delete reports after this many days; 0 = keep. Evidence under reports/_evidence/ is always deleted after 7 days.')
@minValue(0)
param reportRetentionDays int = 0

@secure()
@description('SNAT_TEAMS_WEBHOOK_URL: Teams Workflows webhook URL, or a Key Vault reference to it. Empty = no Teams card.')
param teamsWebhookUrl string = ''

@secure()
@description('SNAT_WEBHOOK_URL: generic webhook URL for the signed summary, or a Key Vault reference. Empty = none.')
param webhookUrl string = ''

@secure()
@description('SNAT_WEBHOOK_SECRET: HMAC key for the generic webhook (16+ characters), or a Key Vault reference.')
param webhookSecret string = ''

@secure()
@description('SNAT_ALERT_SECRET: shared secret POST /api/alerts requires on top of the function key (16+ characters). The action group sends it as alertSecret. Empty = function key only.')
param alertSecret string = ''

@description('More app settings by name (any other setting of lib/config/settings.ts, e.g. SNAT_NATGW_CLUSTER_MAP).')
param additionalAppSettings object = {}

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  application: 'snat-responder'
}

// /subscriptions/<sub>/resourceGroups/<rg>/providers/<namespace>/<type>/<name>
var clusterIdParts = split(aksClusterId, '/')
var loadBalancerIdParts = split(loadBalancerId, '/')

var functionAppName = 'func-snat-${resourceToken}'
var deploymentContainerName = 'app-package'
var reportsContainerName = 'reports'
var actionGroupName = 'ag-snat-${resourceToken}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-snat-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-snat-${resourceToken}'
    applicationInsightsName: 'appi-snat-${resourceToken}'
    location: location
    tags: tags
  }
}

module hostStorage 'modules/host-storage.bicep' = {
  name: 'host-storage'
  scope: rg
  params: {
    name: 'stsnathost${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
  }
}

module reportStorage 'modules/report-storage.bicep' = {
  name: 'report-storage'
  scope: rg
  params: {
    name: 'stsnatrpt${resourceToken}'
    location: location
    tags: tags
    containerName: reportsContainerName
    reportRetentionDays: reportRetentionDays
  }
}

module appRoles 'modules/roles-app.bicep' = {
  name: 'roles-app'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    hostStorageAccountName: hostStorage.outputs.name
    reportsStorageAccountName: reportStorage.outputs.name
    reportsContainerName: reportStorage.outputs.containerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

module loadBalancerRoles 'modules/roles-load-balancer.bicep' = {
  name: 'snat-responder-lb-roles-${resourceToken}'
  scope: resourceGroup(loadBalancerIdParts[2], loadBalancerIdParts[4])
  params: {
    loadBalancerName: last(loadBalancerIdParts)
    principalId: identity.outputs.principalId
  }
}

module aksRoles 'modules/roles-aks.bicep' = {
  name: 'snat-responder-aks-roles-${resourceToken}'
  scope: resourceGroup(clusterIdParts[2], clusterIdParts[4])
  params: {
    clusterName: last(clusterIdParts)
    principalId: identity.outputs.principalId
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-snat-${resourceToken}'
    location: location
    tags: tags
    serviceName: 'responder'
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    hostStorageAccountName: hostStorage.outputs.name
    deploymentContainerName: deploymentContainerName
    reportsStorageAccountName: reportStorage.outputs.name
    reportsContainerName: reportStorage.outputs.containerName
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    taskHubName: taskHubName
    aksClusterId: aksClusterId
    loadBalancerId: loadBalancerId
    aksAccess: aksAccess
    captureNamespace: captureNamespace
    captureImage: captureImage
    privateCidrs: privateCidrs
    teamsWebhookUrl: teamsWebhookUrl
    webhookUrl: webhookUrl
    webhookSecret: webhookSecret
    alertSecret: alertSecret
    additionalAppSettings: additionalAppSettings
  }
  // The host starts with its storage roles in place (they still take a few minutes to propagate).
  dependsOn: [
    appRoles
  ]
}

module actionGroup 'modules/action-group.bicep' = if (alertWebhookEnabled) {
  name: 'action-group'
  scope: rg
  params: {
    name: actionGroupName
    tags: tags
    functionAppName: functionApp.outputs.name
    alertSecret: alertSecret
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    tags: tags
    namePrefix: 'alert-snat-${resourceToken}'
    loadBalancerId: loadBalancerId
    aksNodeCount: aksNodeCount
    allocatedOutboundPorts: allocatedOutboundPorts
    usedSnatPortsPercent: usedSnatPortsPercent
    failedConnectionsThreshold: failedConnectionsThreshold
    // Built, not read from the module's outputs: that module does not exist while the webhook is off.
    actionGroupId: alertWebhookEnabled ? '${rg.id}/providers/Microsoft.Insights/actionGroups/${actionGroupName}' : ''
  }
  dependsOn: [
    actionGroup
  ]
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output RESPONDER_IDENTITY_NAME string = identity.outputs.name
// The Kubernetes RBAC subject: put this object id into infra/k8s/rbac.yaml (README "Deploy").
output RESPONDER_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output RESPONDER_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output REPORTS_STORAGE_ACCOUNT_NAME string = reportStorage.outputs.name
output REPORTS_CONTAINER string = reportStorage.outputs.containerName
output ALERT_ALLOCATED_PORTS int = alerts.outputs.allocatedPorts
output ALERT_USED_SNAT_PORTS_THRESHOLD int = alerts.outputs.usedSnatPortsThreshold
output ALERT_WEBHOOK_CONNECTED bool = alertWebhookEnabled
