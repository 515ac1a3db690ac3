/**
 * DescribeGroups (key 15), versions 0-6, flexible from 5.
 * Spec: DescribeGroupsRequest.json / DescribeGroupsResponse.json (Kafka 4.1.1).
 *
 * Member metadata and assignments are views into the frame, not copies.
 *
 * @module
 */

import type { ApiCodec } from "../framing.ts";
import type { TaggedField } from "../primitives.ts";
import {
  rArray,
  rBytes,
  rNullableString,
  rString,
  rTags,
  wArray,
  wBytes,
  wNullableString,
  wString,
  wTags,
} from "./_flex.ts";

/** The value of `authorizedOperations` when they were not requested (INT32_MIN). */
export const AUTHORIZED_OPERATIONS_OMITTED: number = -2147483648;

/** DescribeGroups request. */
export interface DescribeGroupsRequest {
  /** The groups to describe. */
  groups: string[];
  /** v3+: whether to include the authorized operations. Default false. */
  includeAuthorizedOperations?: boolean;
  /** Unknown tagged fields (v5+). */
  taggedFields?: TaggedField[];
}

/** One member of a described group. */
export interface DescribedGroupMember {
  /** The member id. */
  memberId: string;
  /** v4+: the static member id. Default null. */
  groupInstanceId: string | null;
  /** The client id of the member's latest JoinGroup. */
  clientId: string;
  /** The client host. */
  clientHost: string;
  /** The member's metadata for the protocol in use (only in the Stable state). */
  memberMetadata: Uint8Array;
  /** The member's assignment from the leader (only in the Stable state). */
  memberAssignment: Uint8Array;
  /** Unknown tagged fields (v5+). */
  taggedFields?: TaggedField[];
}

/** One described group. */
export interface DescribedGroup {
  /** The describe error code, or 0 if there was no error. */
  errorCode: number;
  /** v6+: the describe error message, or null. Default null. */
  errorMessage: string | null;
  /** The group id. */
  groupId: string;
  /** The group state, or "". */
  groupState: string;
  /** The protocol type, or "". */
  protocolType: string;
  /** The protocol data (the chosen assignor for consumers), or "". */
  protocolData: string;
  /** The group members (always empty in the Dead state). */
  members: DescribedGroupMember[];
  /** v3+: bit field of the authorized operations. Default {@linkcode AUTHORIZED_OPERATIONS_OMITTED}. */
  authorizedOperations: number;
  /** Unknown tagged fields (v5+). */
  taggedFields?: TaggedField[];
}

/** DescribeGroups response. */
export interface DescribeGroupsResponse {
  /** v1+: throttle time in ms. Default 0. */
  throttleTimeMs: number;
  /** Each described group. */
  groups: DescribedGroup[];
  /** Unknown tagged fields (v5+). */
  taggedFields?: TaggedField[];
}

const FLEX = 5;

/** The DescribeGroups codec. */
export const describeGroups: ApiCodec<DescribeGroupsRequest, DescribeGroupsResponse> = {
  apiKey: 15,
  name: "DescribeGroups",
  minVersion: 0,
  maxVersion: 6,
  flexibleFrom: FLEX,

  // Request fields:
  //   Groups                       []string  0+
  //   IncludeAuthorizedOperations  bool      3+
  encodeRequest(w, req, version) {
    const flex = version >= FLEX;
    if (version < 3 && req.includeAuthorizedOperations) {
      throw new RangeError(`DescribeGroups v${version} cannot send includeAuthorizedOperations (needs v3+)`);
    }
    wArray(w, flex, req.groups, (w, g) => wString(w, flex, g));
    if (version >= 3) w.boolean(req.includeAuthorizedOperations ?? false);
    wTags(w, flex, req.taggedFields);
  },

  decodeRequest(r, version) {
    const flex = version >= FLEX;
    const req: DescribeGroupsRequest = {
      groups: rArray(r, flex, (r) => rString(r, flex)),
      includeAuthorizedOperations: version >= 3 ? r.boolean() : false,
    };
    const tags = rTags(r, flex);
    if (tags) req.taggedFields = tags;
    return req;
  },

  // Response fields:
  //   ThrottleTimeMs          int32   1+
  //   Groups                  []DescribedGroup  0+
  //     ErrorCode             int16   0+
  //     ErrorMessage          string  6+  nullable 6+, default null
  //     GroupId               string  0+
  //     GroupState            string  0+
  //     ProtocolType          string  0+
  //     ProtocolData          string  0+
  //     Members               []DescribedGroupMember  0+
  //       MemberId            string  0+
  //       GroupInstanceId     string  4+  nullable 4+, default null, ignorable
  //       ClientId            string  0+
  //       ClientHost          string  0+
  //       MemberMetadata      bytes   0+
  //       MemberAssignment    bytes   0+
  //     AuthorizedOperations  int32   3+  default -2147483648
  encodeResponse(w, res, version) {
    const flex = version >= FLEX;
    if (version >= 1) w.int32(res.throttleTimeMs);
    wArray(w, flex, res.groups, (w, g) => {
      w.int16(g.errorCode);
      if (version >= 6) wNullableString(w, flex, g.errorMessage);
      wString(w, flex, g.groupId);
      wString(w, flex, g.groupState);
      wString(w, flex, g.protocolType);
      wString(w, flex, g.protocolData);
      wArray(w, flex, g.members, (w, m) => {
        wString(w, flex, m.memberId);
        if (version >= 4) wNullableString(w, flex, m.groupInstanceId);
        wString(w, flex, m.clientId);
        wString(w, flex, m.clientHost);
        wBytes(w, flex, m.memberMetadata);
        wBytes(w, flex, m.memberAssignment);
        wTags(w, flex, m.taggedFields);
      });
      if (version >= 3) w.int32(g.authorizedOperations);
      wTags(w, flex, g.taggedFields);
    });
    wTags(w, flex, res.taggedFields);
  },

  decodeResponse(r, version) {
    const flex = version >= FLEX;
    const res: DescribeGroupsResponse = {
      throttleTimeMs: version >= 1 ? r.int32() : 0,
      groups: rArray(r, flex, (r) => {
        const g: DescribedGroup = {
          errorCode: r.int16(),
          errorMessage: version >= 6 ? rNullableString(r, flex) : null,
          groupId: rString(r, flex),
          groupState: rString(r, flex),
          protocolType: rString(r, flex),
          protocolData: rString(r, flex),
          members: rArray(r, flex, (r) => {
            const m: DescribedGroupMember = {
              memberId: rString(r, flex),
              groupInstanceId: version >= 4 ? rNullableString(r, flex) : null,
              clientId: rString(r, flex),
              clientHost: rString(r, flex),
              memberMetadata: rBytes(r, flex),
              memberAssignment: rBytes(r, flex),
            };
            const tags = rTags(r, flex);
            if (tags) m.taggedFields = tags;
            return m;
          }),
          authorizedOperations: version >= 3 ? r.int32() : AUTHORIZED_OPERATIONS_OMITTED,
        };
        const tags = rTags(r, flex);
        if (tags) g.taggedFields = tags;
        return g;
      }),
    };
    const tags = rTags(r, flex);
    if (tags) res.taggedFields = tags;
    return res;
  },
};
