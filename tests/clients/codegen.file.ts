// GraphQL Code Generator from the published schema file.
import type { CodegenConfig } from '@graphql-codegen/cli';
import { generates } from './codegen.shared';

const config: CodegenConfig = {
  schema: '../../schema.graphql',
  documents: ['../api/screens.graphql'],
  generates: generates('generated/file/'),
};
export default config;
