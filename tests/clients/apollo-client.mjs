// An Apollo Client 4 set up the way the SPA sets it up: a normalized
// InMemoryCache, HTTP for queries and mutations with an auth link adding
// the Bearer header, graphql-ws for subscriptions (split), and an error
// link that renews the session once on UNAUTHENTICATED and retries.
import {
  ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache,
} from '@apollo/client';
import { loadDevMessages, loadErrorMessages } from '@apollo/client/dev';
import { SetContextLink } from '@apollo/client/link/context';
import { ErrorLink } from '@apollo/client/link/error';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { __DEV__ } from '@apollo/client/utilities/environment';
import { createClient } from 'graphql-ws';
import { from, switchMap } from 'rxjs';
import WebSocket from 'ws';

if (!__DEV__) {
  throw new Error('Apollo Client runs in production mode: start node with --conditions=development so that it warns about missing fields');
}
loadDevMessages();
loadErrorMessages();

/**
 * session: { accessToken, refreshToken } (mutated in place on renewal).
 * Returns { client, wsClient, stats } where stats counts HTTP requests and
 * session renewals.
 */
export function createSpaClient(url, session) {
  const stats = { http: [], refreshes: 0 };

  // Single-flight renewal: concurrent failures share one refreshSession.
  let renewing = null;
  const renew = () => {
    renewing ??= (async () => {
      stats.refreshes += 1;
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query: 'mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken expiresAt } }',
          variables: { t: session.refreshToken },
        }),
      });
      const body = await res.json();
      if (body.errors || !body.data?.refreshSession) {
        throw new Error(`refreshSession failed: ${JSON.stringify(body)}`);
      }
      session.accessToken = body.data.refreshSession.accessToken;
      session.refreshToken = body.data.refreshSession.refreshToken;
      session.expiresAt = body.data.refreshSession.expiresAt;
    })().finally(() => { renewing = null; });
    return renewing;
  };

  const unauthenticated = (error) => CombinedGraphQLErrors.is(error)
    && error.errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED');

  const renewLink = new ErrorLink(({ error, operation, forward }) => {
    const { renewed, sentToken } = operation.getContext();
    if (!unauthenticated(error) || renewed) return undefined;
    operation.setContext({ renewed: true });
    // Renewed meanwhile (by another failed request): just retry.
    const ready = sentToken === session.accessToken ? renew() : Promise.resolve();
    return from(ready).pipe(switchMap(() => forward(operation)));
  });

  const authLink = new SetContextLink((prev) => ({
    sentToken: session.accessToken,
    headers: { ...prev.headers, ...(session.accessToken ? { authorization: `Bearer ${session.accessToken}` } : {}) },
  }));

  const httpLink = new HttpLink({
    uri: url,
    fetch: (input, init) => {
      stats.http.push(JSON.parse(init.body).operationName ?? '(anonymous)');
      return fetch(input, init);
    },
  });

  const wsClient = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: () => ({ authorization: `Bearer ${session.accessToken}` }),
    retryAttempts: 0,
  });

  const link = ApolloLink.split(
    ({ query }) => {
      const def = getMainDefinition(query);
      return def.kind === 'OperationDefinition' && def.operation === 'subscription';
    },
    new GraphQLWsLink(wsClient),
    ApolloLink.from([renewLink, authLink, httpLink]),
  );

  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  return { client, wsClient, stats, renew };
}
