// Package jobtemplate names the synchronization job templates of Entra Cloud
// Sync's application (AD2AAD): the one source of these ids for graph (our
// Graph client) and workflows (the contract), which may not import each
// other (workflows is linked by the starter, which must not link the Graph
// SDK; graph does not depend on the workflow contract). It imports nothing.
//
// graphsim keeps its own copy on purpose: it models Graph independently of
// our code, so a wrong id here fails against it instead of agreeing with it.
package jobtemplate

const (
	Provisioning      = "AD2AADProvisioning"
	PasswordHash      = "AD2AADPasswordHash"
	ExchangeWriteback = "AAD2ADExchangeHybridWriteback"
)
