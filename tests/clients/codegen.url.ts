// GraphQL Code Generator from the running server's introspection,
// unauthenticated (no authorization header).
import type { CodegenConfig } from '@graphql-codegen/cli';
import { generates } from './codegen.shared';

const url = process.env.GRAPHQL_URL ?? 'http://127.0.0.1:8080/graphql';

const config: CodegenConfig = {
  schema: { [url]: { headers: {} } },
  documents: ['../api/screens.graphql'],
  generates: generates('generated/url/'),
};
export default config;
