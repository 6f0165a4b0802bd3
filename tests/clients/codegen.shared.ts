// What both codegen configs generate: typed documents and result types for
// the SPA's operations, with every custom scalar of the schema mapped
// (strictScalars fails the run on a scalar added without a mapping).
import type { CodegenConfig } from '@graphql-codegen/cli';

export const generates = (dir: string): CodegenConfig['generates'] => ({
  [dir]: {
    preset: 'client',
    presetConfig: { fragmentMasking: false },
    config: {
      strictScalars: true,
      scalars: {
        Date: 'string',
        DateTime: 'string',
        Decimal: 'string',
      },
      useTypeImports: true,
    },
  },
});
