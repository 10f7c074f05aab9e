package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/agent"
	"github.com/pivauth/pivauth/flows/cache"
)

// tokenCache is where the flows keep tokens for the key s: in the agent's memory when the key is
// the agent's (dropped when it locks), else on disk ($XDG_CACHE_HOME/pivauth); nowhere with
// --no-cache (nil).
func (a *app) tokenCache(f *idpFlags, s cardKey) (cache.Cache, error) {
	if f.noCache {
		return nil, nil
	}
	if ak, ok := s.(agentKey); ok {
		return cache.Over(agentTokens{client: ak.client, log: a.log}), nil
	}
	store, err := cache.Open("")
	if err != nil {
		return nil, err
	}
	return store, nil
}

// agentTokens are the tokens the agent keeps in its memory. The agent records each read and write
// in the audit log (token-get, token-put), under the entry's name.
type agentTokens struct {
	client *agent.Client
	log    *slog.Logger
}

func (t agentTokens) Get(ctx context.Context, name string) ([]byte, bool, error) {
	held, err := t.client.Token(ctx, name)
	if err != nil || held == nil {
		return nil, false, err
	}
	return held.Data, true, nil
}

// Put keeps the token in the agent. A token the agent cannot keep is still the caller's (the
// agent is only a cache): the failure is logged, not returned.
func (t agentTokens) Put(ctx context.Context, name string, data []byte, expires time.Time) error {
	if err := t.client.PutToken(ctx, name, agent.Token{Data: data, Expires: expires}); err != nil {
		t.log.Debug("the agent did not keep the token", "error", err)
	}
	return nil
}
