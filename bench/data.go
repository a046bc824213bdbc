package main

import (
	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
	"github.com/mewsref/mewsref/server"
)

// benchIntegration is the integration of the demo tokens that the harness
// uses, configured with a known id so that data can be imported for it.
var benchIntegration = uuid.MustParse("0b5e1c7a-9d1f-4a8e-b3c2-6f7a8d9e0c1b")

func tokenConfig() *server.TokenConfig {
	off := false
	return &server.TokenConfig{DemoTokens: &off, Integrations: []server.IntegrationConfig{{
		Name: "bench", ClientToken: clientToken, ID: benchIntegration,
		AccessTokens: []server.AccessTokenConfig{{Token: accessToken, EnterpriseIDs: []uuid.UUID{server.DemoGrossPricingEnterprise}}},
	}}}
}

// benchScope is where all the data is: the bench integration in the demo
// gross-pricing enterprise.
var benchScope = mews.Scope{IntegrationID: benchIntegration, EnterpriseIDs: []uuid.UUID{server.DemoGrossPricingEnterprise}}
