import { elapse, expectQuietFor } from './quiet';

describe('waiting without an event', () => {
  test('expectQuietFor passes a quiet window, and fails as soon as the thing happens, naming it', async () => {
    await expect(expectQuietFor(60, 'anything', () => false)).resolves.toBeUndefined();
    const start = Date.now();
    let happened = false;
    setTimeout(() => (happened = true), 30);
    await expect(expectQuietFor(5000, 'the second Event', () => happened)).rejects.toThrow(
      'the second Event happened within the 5000 ms that had to stay quiet',
    );
    // Failed when it happened, not at the end of the window.
    expect(Date.now() - start).toBeLessThan(2000);
  });

  test('elapse lets the time pass', async () => {
    const start = performance.now();
    await elapse(40, 'the test');
    expect(performance.now() - start).toBeGreaterThanOrEqual(39);
  });
});
