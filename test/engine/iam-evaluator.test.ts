import { describe, expect, it } from 'vitest';
import {
  evaluate,
  evaluateBounded,
  wildcardMatch,
  type Statement,
} from '../helpers/iam-evaluator.js';

const allow = (s: Partial<Statement>): Statement => ({ Effect: 'Allow', ...s });

describe('the small IAM evaluator', () => {
  it('a negated operator holds when the key is absent, as IAM documents (the Deny applies)', () => {
    const deny: Statement = {
      Effect: 'Deny',
      Action: 'iam:CreateRole',
      Resource: '*',
      Condition: { ArnNotLike: { 'iam:PermissionsBoundary': 'arn:aws:iam::*:policy/b' } },
    };
    const policy = [allow({ Action: '*', Resource: '*' }), deny];
    const req = (context: Record<string, string>) => ({
      action: 'iam:CreateRole',
      resource: 'arn:aws:iam::123456789012:role/r',
      context,
    });
    expect(evaluate(policy, req({}))).toBe('deny');
    expect(evaluate(policy, req({ 'iam:PermissionsBoundary': 'arn:aws:iam::1:policy/c' }))).toBe(
      'deny',
    );
    expect(evaluate(policy, req({ 'iam:PermissionsBoundary': 'arn:aws:iam::1:policy/b' }))).toBe(
      'allow',
    );
    const notEquals: Statement = {
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: { StringNotEquals: { 'aws:PrincipalAccount': '1' } },
    };
    expect(evaluate([notEquals], req({}))).toBe('deny');
    expect(evaluate([notEquals], req({ 'aws:PrincipalAccount': '1' }))).toBe('implicit-deny');
  });

  it('matches IAM wildcards: * any run (none included), ? exactly one; actions case-insensitively', () => {
    expect(
      wildcardMatch(
        'arn:aws:s3:::shop-????????????-*',
        'arn:aws:s3:::shop-123456789012-ap-northeast-2',
      ),
    ).toBe(true);
    expect(
      wildcardMatch(
        'arn:aws:s3:::shop-????????????-*',
        'arn:aws:s3:::shop-frontend-123456789012-x',
      ),
    ).toBe(false);
    expect(wildcardMatch('role/app*', 'role/app')).toBe(true);
    expect(wildcardMatch('role/a.c', 'role/abc')).toBe(false); // . is literal
    expect(
      evaluate([allow({ Action: 'EC2:describe*', Resource: '*' })], {
        action: 'ec2:DescribeVpcs',
        resource: '*',
        context: {},
      }),
    ).toBe('allow');
    expect(
      evaluate([allow({ Action: 'ec2:Describe*', Resource: 'arn:aws:ec2:*:*:vpc/*' })], {
        action: 'ec2:DescribeVpcs',
        resource: '*',
        context: {},
      }),
    ).toBe('implicit-deny');
  });

  it('needs every condition operator and key to hold; a missing key fails all but Null; any value of a list may match', () => {
    const s = allow({
      Action: 'ec2:DeleteVpc',
      Resource: 'arn:aws:ec2:*:*:vpc/*',
      Condition: {
        StringEquals: { 'aws:ResourceTag/cloudmart:stack': 'shop' },
        Bool: { 'kms:GrantIsForAWSResource': true },
      },
    });
    const req = (context: Record<string, string | string[] | boolean>) => ({
      action: 'ec2:DeleteVpc',
      resource: 'arn:aws:ec2:r:1:vpc/vpc-1',
      context,
    });
    expect(
      evaluate(
        [s],
        req({ 'aws:ResourceTag/cloudmart:stack': 'shop', 'kms:GrantIsForAWSResource': true }),
      ),
    ).toBe('allow');
    expect(evaluate([s], req({ 'aws:ResourceTag/cloudmart:stack': 'shop' }))).toBe('implicit-deny');
    expect(
      evaluate(
        [s],
        req({ 'aws:ResourceTag/cloudmart:stack': 'other', 'kms:GrantIsForAWSResource': true }),
      ),
    ).toBe('implicit-deny');
    // Condition key names are case-insensitive.
    expect(
      evaluate(
        [s],
        req({ 'AWS:resourcetag/cloudmart:stack': 'shop', 'kms:grantisforawsresource': 'true' }),
      ),
    ).toBe('allow');
    const multi = allow({
      Action: '*',
      Resource: '*',
      Condition: { StringLike: { 'iam:PassedToService': ['ec2.*', 'backup.*'] } },
    });
    expect(
      evaluate([multi], {
        action: 'iam:PassRole',
        resource: 'r',
        context: { 'iam:PassedToService': 'backup.amazonaws.com' },
      }),
    ).toBe('allow');
    expect(
      evaluate([multi], {
        action: 'iam:PassRole',
        resource: 'r',
        context: { 'iam:PassedToService': 'lambda.amazonaws.com' },
      }),
    ).toBe('implicit-deny');
    const absent = allow({
      Action: '*',
      Resource: '*',
      Condition: { Null: { 'aws:RequestTag/x': true } },
    });
    expect(evaluate([absent], { action: 'a:B', resource: 'r', context: {} })).toBe('allow');
    expect(
      evaluate([absent], { action: 'a:B', resource: 'r', context: { 'aws:RequestTag/x': 'y' } }),
    ).toBe('implicit-deny');
  });

  it('lets an explicit Deny win over any Allow', () => {
    const statements: Statement[] = [
      allow({ Action: '*', Resource: '*' }),
      { Effect: 'Deny', Action: 'iam:*', Resource: '*' },
    ];
    expect(
      evaluate(statements, {
        action: 'iam:CreateRole',
        resource: 'arn:aws:iam::1:role/x',
        context: {},
      }),
    ).toBe('deny');
    expect(
      evaluate(statements, { action: 's3:GetObject', resource: 'arn:aws:s3:::b/k', context: {} }),
    ).toBe('allow');
  });

  it('refuses an operator it does not implement instead of guessing', () => {
    const s = allow({
      Action: '*',
      Resource: '*',
      Condition: { NumericLessThan: { 'aws:MultiFactorAuthAge': '3600' } },
    });
    expect(() =>
      evaluate([s], { action: 'a:B', resource: 'r', context: { 'aws:MultiFactorAuthAge': '1' } }),
    ).toThrow(/NumericLessThan/);
  });
});

describe('iam-evaluator: NotResource and a permissions boundary', () => {
  it('NotResource matches every resource but those named', () => {
    const deny: Statement[] = [
      {
        Effect: 'Deny',
        Action: 'ssm:GetParameter',
        NotResource: 'arn:aws:ssm:*:*:parameter/mine/*',
      },
      { Effect: 'Allow', Action: 'ssm:GetParameter', Resource: '*' },
    ];
    const get = (resource: string) =>
      evaluate(deny, { action: 'ssm:GetParameter', resource, context: {} });
    expect(get('arn:aws:ssm:r:1:parameter/mine/a')).toBe('allow');
    expect(get('arn:aws:ssm:r:1:parameter/theirs/a')).toBe('deny');
  });

  it('a bounded principal gets what both its policies and its boundary allow, and no more', () => {
    const identity: Statement[] = [{ Effect: 'Allow', Action: '*', Resource: '*' }];
    const boundary: Statement[] = [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }];
    const req = (action: string) => ({ action, resource: 'arn:aws:s3:::b/k', context: {} });
    expect(evaluateBounded(identity, boundary, req('s3:GetObject'))).toBe('allow');
    expect(evaluateBounded(identity, boundary, req('s3:PutObject'))).toBe('implicit-deny');
    expect(evaluateBounded([], boundary, req('s3:GetObject'))).toBe('implicit-deny');
    expect(
      evaluateBounded(
        identity,
        [...boundary, { Effect: 'Deny', Action: '*', Resource: '*' }],
        req('s3:GetObject'),
      ),
    ).toBe('deny');
  });
});
