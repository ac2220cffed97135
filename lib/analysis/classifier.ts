/**
 * Private ranges from two places (a command-line option and the node's own description) without losing either:
 * the extra CIDRs are checked first, then the base classifier decides.
 */
import { AddressClassifier } from './ip.js';
import type { AddressCategory, IPAddress } from './ip.js';

class LayeredClassifier extends AddressClassifier {
  constructor(
    private readonly base: AddressClassifier,
    privateCidrs: readonly string[],
  ) {
    super({ privateCidrs });
  }

  override classify(address: IPAddress): AddressCategory {
    const category = super.classify(address);
    return category === 'public' ? this.base.classify(address) : category;
  }
}

/** `base` with `privateCidrs` added; `base` itself when there are none. Throws RangeError on an invalid CIDR. */
export function withPrivateCidrs(base: AddressClassifier, privateCidrs: readonly string[]): AddressClassifier {
  return privateCidrs.length === 0 ? base : new LayeredClassifier(base, privateCidrs);
}
