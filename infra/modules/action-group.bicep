// The action group that calls the responder: one webhook receiver, common alert schema, pointed at POST /api/alerts
// with the Function App's default host key (the route's authLevel is "function") and, when set, the alert secret
// (SNAT_ALERT_SECRET, checked by lib/intake/http.ts as the alertSecret query parameter).
//
// Deployed only when alertWebhookEnabled is true (main.bicep), i.e. after the code has been deployed once: the host
// keys are created by the Functions host when it first starts, so listKeys on a Function App that never ran its code
// fails. See infra/README.md, "The action group and the function key".

param name string
param tags object
param functionAppName string

@secure()
param alertSecret string

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

var secretQuery = empty(alertSecret) ? '' : '&alertSecret=${uriComponent(alertSecret)}'

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: name
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'snat-resp'
    enabled: true
    webhookReceivers: [
      {
        name: 'snat-responder'
        // The key stays inside ARM: it is read here at deployment time and never passes through a shell or an output.
        serviceUri: 'https://${functionApp.properties.defaultHostName}/api/alerts?code=${uriComponent(listKeys('${functionApp.id}/host/default', '2024-04-01').functionKeys.default)}${secretQuery}'
        useCommonAlertSchema: true
        useAadAuth: false
      }
    ]
  }
}

output id string = actionGroup.id
