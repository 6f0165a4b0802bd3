// Compiled with `tsc --noEmit` against each codegen output (tsconfig.url.json,
// tsconfig.file.json map `@generated/*` to it): the SPA's operations as typed
// documents, used the way the SPA uses them with Apollo Client and urql.
import { ApolloClient } from '@apollo/client';
import { Client } from '@urql/core';
import type { ResultOf, VariablesOf } from '@graphql-typed-document-node/core';
import {
  BoardDocument,
  ForecastDocument,
  OpportunitiesTableDocument,
  OpportunityPageDocument,
  type CardFragment,
  type OpportunityStatus,
} from '@generated/graphql';

declare const apollo: ApolloClient;
declare const urql: Client;

export async function board(pipelineId: string): Promise<string | undefined> {
  const { data } = await apollo.query({ query: BoardDocument, variables: { pipelineId } });
  const title: string | undefined = data?.pipeline?.stages[0]?.opportunities.nodes[0]?.title;
  // Decimal → string, Date → string
  const total: string | undefined = data?.pipeline?.openPotential.amount;
  const due: string | null | undefined = data?.pipeline?.stages[0]?.opportunities.nodes[0]?.dueDate;
  const status: OpportunityStatus | undefined = data?.pipeline?.stages[0]?.opportunities.nodes[0]?.status;
  const card: CardFragment | undefined = data?.pipeline?.stages[0]?.opportunities.nodes[0];
  // @ts-expect-error a title is a string
  const wrong: number | undefined = data?.pipeline?.stages[0]?.opportunities.nodes[0]?.title;
  return [title, total, due, status, card?.owner.name, wrong].join();
}

export async function table(pipelineId: string) {
  const result = await urql.query(OpportunitiesTableDocument, { pipelineId, after: null }).toPromise();
  // DateTime → string
  const created: string | undefined = result.data?.opportunities.nodes[0]?.createdAt;
  const firstActivity: string | null | undefined = result.data?.opportunities.nodes[0]?.activities.nodes[0]?.dueAt;
  return { created, firstActivity };
}

export async function forecast(pipelineId: string) {
  const result = await urql.query(ForecastDocument, { pipelineId }).toPromise();
  const won: string | undefined = result.data?.forecast.total.wonAmount.amount;
  return won;
}

type Page = ResultOf<typeof OpportunityPageDocument>;
type PageVariables = VariablesOf<typeof OpportunityPageDocument>;
export const changedBy = (page: Page): string | undefined => page.opportunity?.history.nodes[0]?.changedBy?.name;
export const pageVariables: PageVariables = { id: 'x' };
// @ts-expect-error the Board needs a pipelineId
export const missing: VariablesOf<typeof BoardDocument> = {};
