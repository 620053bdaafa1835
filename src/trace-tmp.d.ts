export declare const tr: {
    req: number;
    marks: [number, string, number][];
};
export declare function mark(label: string): void;
export declare function dump(): void;
