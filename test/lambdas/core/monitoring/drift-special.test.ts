// The special functions against scipy 1.17.1 (run offline on this machine, the calls noted with each table).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chiSquareSurvival, kolmogorovSurvival, lnGamma, regularizedGammaQ } from '../../../../lambdas/core/monitoring/drift/special';

function assertClose(actual: number, expected: number, relative: number, what: string): void {
  const error = expected === 0 ? Math.abs(actual) : Math.abs(actual - expected) / Math.abs(expected);
  assert.ok(error <= relative, `${what}: ${actual} differs from ${expected} by ${error.toExponential(2)} (relative), more than ${relative}`);
}

describe('chiSquareSurvival', () => {
  it('matches scipy.stats.chi2.sf(x, dof), small tails included, to 1e-12', () => {
    const table: [x: number, dof: number, sf: number][] = [
      [0.5, 1, 0.47950012218695337],
      [3.84, 1, 0.05004352124870519],
      [10, 1, 0.001565402258002549],
      [100, 1, 1.5239706048320995e-23],
      [7.8147, 3, 0.050000625284760056],
      [20, 9, 0.017912404529843298],
      [2, 9, 0.9914676066288135],
      [50, 9, 1.0772382022574693e-7],
      [0.01, 2, 0.9950124791926823],
      [1000, 10, 1.870290720915977e-208],
      [15.5, 30, 0.9865924624154359],
    ];
    for (const [x, dof, sf] of table) assertClose(chiSquareSurvival(x, dof), sf, 1e-12, `chi2.sf(${x}, ${dof})`);
  });

  it('is exp(-x/2) for 2 degrees of freedom, 1 at 0, and refuses a bad argument', () => {
    for (const x of [0.3, 4, 25]) assertClose(chiSquareSurvival(x, 2), Math.exp(-x / 2), 1e-14, `chi2.sf(${x}, 2)`);
    assert.equal(chiSquareSurvival(0, 3), 1);
    assert.equal(regularizedGammaQ(2, Infinity), 0);
    assert.throws(() => chiSquareSurvival(1, 0), /degrees of freedom must be positive, received 0/);
    assert.throws(() => regularizedGammaQ(1, -1), /x >= 0, received -1/);
  });
});

describe('lnGamma', () => {
  it('matches scipy.special.gammaln to 1e-13, and ln((n-1)!) at integers', () => {
    const table: [x: number, value: number][] = [
      [0.1, 2.252712651734206],
      [0.5, 0.5723649429247],
      [1.5, -0.12078223763524526],
      [4.5, 2.4537365708424423],
      [10, 12.801827480081469],
      [100.5, 361.43554046777757],
    ];
    for (const [x, value] of table) assertClose(lnGamma(x), value, 1e-13, `gammaln(${x})`);
    assert.ok(Math.abs(lnGamma(1)) < 1e-14 && Math.abs(lnGamma(2)) < 1e-14, 'ln 0! = ln 1! = 0');
    assertClose(lnGamma(6), Math.log(120), 1e-14, 'ln 5!');
  });
});

describe('kolmogorovSurvival', () => {
  it('matches scipy.special.kolmogorov(λ) on both sides of the switch at λ = 1.18', () => {
    const table: [lambda: number, q: number][] = [
      [0.05, 1],
      [0.2, 0.999999999999495],
      [0.5, 0.9639452436648751],
      [0.8, 0.5441424115741981],
      [1.0, 0.26999967167735456],
      [1.17, 0.12939004218561884],
      [1.18, 0.1234538094297657],
      [1.19, 0.11774229287977166],
      [1.36, 0.049485876755377876],
      [2, 0.0006709252557796953],
      [3, 3.045995948942526e-8],
      [5, 3.8574996959278356e-22],
    ];
    for (const [lambda, q] of table) assertClose(kolmogorovSurvival(lambda), q, 1e-12, `kolmogorov(${lambda})`);
    assert.equal(kolmogorovSurvival(0), 1);
  });
});
