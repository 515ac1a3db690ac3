/**
 * DescribeGroups (key 15), versions 0-6, flexible from 5.
 * Spec: DescribeGroupsRequest.json / DescribeGroupsResponse.json (Kafka 4.3.1).
 *
 * Member metadata and assignments are views into the frame, not copies.
 *
 * The codec is generated (protocol/messages/describe_groups.ts, from Kafka 4.3.1's schemas); this module
 * keeps the names the client uses.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
export type { DescribeGroupsRequest, DescribeGroupsResponse } from "../messages/describe_groups.ts";
import type { DescribeGroupsRequest, DescribeGroupsResponse } from "../messages/describe_groups.ts";
import {
  describeGroups as generated,
  type DescribeGroupsResponseDescribedGroup,
  type DescribeGroupsResponseDescribedGroupMember,
} from "../messages/describe_groups.ts";

/** DescribedGroup: see DescribeGroupsResponseDescribedGroup in protocol/messages/describe_groups.ts. */
export type DescribedGroup = DescribeGroupsResponseDescribedGroup;
/** DescribedGroupMember: see DescribeGroupsResponseDescribedGroupMember in protocol/messages/describe_groups.ts. */
export type DescribedGroupMember = DescribeGroupsResponseDescribedGroupMember;

/** The DescribeGroups codec (generated). */
export const describeGroups: ApiCodec<DescribeGroupsRequest, DescribeGroupsResponse> = generated;
/** The value of `authorizedOperations` when they were not requested (INT32_MIN). */
export const AUTHORIZED_OPERATIONS_OMITTED: number = -2147483648;
